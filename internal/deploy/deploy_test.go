package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/dgehq/dge/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenCases are the graphs whose output is kept under testdata/NAME.
var goldenCases = []struct {
	name, path, buildDir string
	vars                 []config.VarArg
	namespace, image     string
}{
	{name: "arith", path: "../../examples/arith", buildDir: "examples/arith/cmd/arith"},
	{name: "orders", path: "../../examples/orders", buildDir: "examples/orders/cmd/orders"},
	{name: "fib", path: "../../examples/fib", buildDir: "examples/fib/cmd/fib"},
	// deploy blocks set, a variable among them, a namespace and an image.
	{name: "deploy", path: "../../testdata/graphs/deploy", buildDir: "cmd/fib",
		vars: []config.VarArg{{Raw: "fib_max=6"}}, namespace: "pipelines", image: "registry.example/fib:1.4.2"},
}

func load(t *testing.T, path string, vars []config.VarArg, env []string) *config.Graph {
	t.Helper()
	g, diags := config.NewLoader().Load(path, config.Options{VarArgs: vars, Env: env})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", path, diags)
	}
	return g
}

func render(t *testing.T, g *config.Graph, o Options) map[string][]byte {
	t.Helper()
	files, err := Render(g, o)
	if err != nil {
		t.Fatalf("Render(%s, %s): %v", g.Name, o.Target, err)
	}
	return files
}

// TestGolden compares every file of both targets with testdata/CASE/TARGET
// (go test -update rewrites them) and renders twice to catch output that
// depends on map order.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		g := load(t, c.path, c.vars, nil)
		for _, target := range Targets {
			t.Run(c.name+"/"+string(target), func(t *testing.T) {
				o := Options{Target: target, BuildDir: c.buildDir, Namespace: c.namespace, Image: c.image}
				files := render(t, g, o)
				for range 3 {
					again := render(t, g, o)
					for name, b := range files {
						if !bytes.Equal(b, again[name]) {
							t.Fatalf("%s differs between two renders of the same graph", name)
						}
					}
				}
				dir := filepath.Join("testdata", c.name, string(target))
				if *update {
					if err := os.RemoveAll(dir); err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					for name, b := range files {
						if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatalf("%v (run go test -update to write the golden files)", err)
				}
				var have []string
				for _, e := range entries {
					have = append(have, e.Name())
				}
				want := names(files)
				if !slices.Equal(have, want) {
					t.Fatalf("golden files %v, rendered %v (run go test -update after an intended change)", have, want)
				}
				for _, name := range want {
					golden, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(golden, files[name]) {
						t.Errorf("%s differs from %s (run go test -update after an intended change):\n%s", name, filepath.Join(dir, name), files[name])
					}
					if !strings.HasPrefix(string(files[name]), Header+"\n") {
						t.Errorf("%s does not start with %q", name, Header)
					}
				}
			})
		}
	}
}

func names(files map[string][]byte) []string {
	var out []string
	for name := range files {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// documents splits a multi-document YAML file.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// strict decodes one YAML document into v, failing on any field v's type
// does not have.
func strict(t *testing.T, name string, doc []byte, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("%s: not YAML: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: does not decode strictly as %T: %v\n%s", name, v, err, doc)
	}
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("%s: yaml.UnmarshalStrict as %T: %v", name, v, err)
	}
}

// TestKubernetesObjects decodes every object of every golden case with
// the Kubernetes API's types and KEDA's, unknown fields failing, and
// checks what each must say.
func TestKubernetesObjects(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			g := load(t, c.path, c.vars, nil)
			o := Options{Target: Kubernetes, BuildDir: c.buildDir, Namespace: c.namespace, Image: c.image}
			files := render(t, g, o)
			image := c.image
			if image == "" {
				image = g.Name + ":latest"
			}
			secret := SecretName(g.Name)

			var auth kedav1alpha1.TriggerAuthentication
			docs := documents(files[AuthFile])
			if len(docs) != 1 {
				t.Fatalf("%s holds %d documents, want 1", AuthFile, len(docs))
			}
			strict(t, AuthFile, docs[0], &auth)
			if auth.Kind != "TriggerAuthentication" || auth.APIVersion != "keda.sh/v1alpha1" || auth.Namespace != c.namespace {
				t.Errorf("%s: kind %q apiVersion %q namespace %q", AuthFile, auth.Kind, auth.APIVersion, auth.Namespace)
			}
			if want := []kedav1alpha1.AuthSecretTargetRef{{Parameter: "host", Name: secret, Key: "amqp-url"}}; !slices.Equal(auth.Spec.SecretTargetRef, want) {
				t.Errorf("secretTargetRef %+v, want %+v", auth.Spec.SecretTargetRef, want)
			}

			seen := 0
			for _, n := range g.Nodes {
				file := NodeFile(strings.ReplaceAll(n.Name, "_", "-"))
				b, ok := files[file]
				if n.Kind == config.KindStart || n.Kind == config.KindTerminate {
					if ok {
						t.Errorf("%s.%s consumes nothing of its own but has %s", n.Kind, n.Name, file)
					}
					continue
				}
				seen++
				if !ok {
					t.Fatalf("no %s for %s.%s", file, n.Kind, n.Name)
				}
				docs := documents(b)
				if len(docs) != 2 {
					t.Fatalf("%s holds %d documents, want 2", file, len(docs))
				}
				var dep appsv1.Deployment
				strict(t, file, docs[0], &dep)
				var so kedav1alpha1.ScaledObject
				strict(t, file, docs[1], &so)
				checkDeployment(t, g, n, &dep, image, secret, c.namespace)
				checkScaledObject(t, g, n, &so, dep.Name, auth.Name, c.namespace)
			}
			if want := seen + 3; len(files) != want {
				t.Errorf("rendered %d files %v, want %d (one per consuming node, %s, Dockerfile, README.md)", len(files), names(files), want, AuthFile)
			}
		})
	}
}

func checkDeployment(t *testing.T, g *config.Graph, n *config.Node, dep *appsv1.Deployment, image, secret, namespace string) {
	t.Helper()
	d := n.Deploy
	if dep.Kind != "Deployment" || dep.APIVersion != "apps/v1" || dep.Namespace != namespace {
		t.Errorf("%s: kind %q apiVersion %q namespace %q", n.Name, dep.Kind, dep.APIVersion, dep.Namespace)
	}
	if dep.Spec.Replicas == nil || int(*dep.Spec.Replicas) != d.MinReplicas {
		t.Errorf("%s: replicas %v, want the minimum %d", n.Name, dep.Spec.Replicas, d.MinReplicas)
	}
	tl := dep.Spec.Template.Labels
	if tl["app.kubernetes.io/name"] != g.Name || tl["app.kubernetes.io/component"] != n.Name {
		t.Errorf("%s: pod labels %v", n.Name, tl)
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if tl[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod labels %v", n.Name, k, v, tl)
		}
	}
	an := dep.Spec.Template.Annotations
	if an["prometheus.io/scrape"] != "true" || an["prometheus.io/port"] != "9090" || an["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: annotations %v", n.Name, an)
	}
	ps := dep.Spec.Template.Spec
	if want := int64((d.ShutdownGrace + GraceMargin).Seconds()); ps.TerminationGracePeriodSeconds == nil || *ps.TerminationGracePeriodSeconds != want {
		t.Errorf("%s: terminationGracePeriodSeconds %v, want %d", n.Name, ps.TerminationGracePeriodSeconds, want)
	}
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot ||
		ps.SecurityContext.RunAsUser == nil || *ps.SecurityContext.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext %+v, want runAsNonRoot with a user other than root", n.Name, ps.SecurityContext)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%s: %d containers", n.Name, len(ps.Containers))
	}
	c := ps.Containers[0]
	command := strings.ReplaceAll(n.Name, "_", "-")
	argv := append(append([]string{}, c.Command...), c.Args...)
	if want := []string{"/usr/local/bin/" + g.Name, command, "-metrics-addr", ":9090", "-shutdown-timeout", d.ShutdownGrace.String()}; !slices.Equal(argv, want) {
		t.Errorf("%s: runs %q, want %q", n.Name, argv, want)
	}
	if c.Image != image {
		t.Errorf("%s: image %q, want %q", n.Name, c.Image, image)
	}
	var url *corev1.EnvVar
	for i, e := range c.Env {
		if e.Name == "DGE_AMQP_URL" {
			url = &c.Env[i]
		}
	}
	if url == nil || url.Value != "" || url.ValueFrom == nil || url.ValueFrom.SecretKeyRef == nil ||
		url.ValueFrom.SecretKeyRef.Name != secret || url.ValueFrom.SecretKeyRef.Key != "amqp-url" {
		t.Errorf("%s: DGE_AMQP_URL is %+v, want it from Secret %s key amqp-url", n.Name, url, secret)
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
			t.Errorf("%s: %s probe %+v, want GET %s", n.Name, what, p, path)
			return
		}
		port := p.HTTPGet.Port.IntValue()
		if p.HTTPGet.Port.StrVal != "" {
			for _, cp := range c.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal {
					port = int(cp.ContainerPort)
				}
			}
		}
		if port != 9090 {
			t.Errorf("%s: %s probe on port %v, want 9090", n.Name, what, p.HTTPGet.Port)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	quantity := func(what string, l corev1.ResourceList, name corev1.ResourceName, want string) {
		q, ok := l[name]
		if want == "" {
			if ok {
				t.Errorf("%s: %s %s is %s, the graph sets none", n.Name, what, name, q.String())
			}
			return
		}
		if !ok || q.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("%s: %s %s is %v, want %s", n.Name, what, name, l, want)
		}
	}
	quantity("requests", c.Resources.Requests, corev1.ResourceCPU, d.CPU)
	quantity("requests", c.Resources.Requests, corev1.ResourceMemory, d.Memory)
	quantity("limits", c.Resources.Limits, corev1.ResourceMemory, d.Memory)
	quantity("limits", c.Resources.Limits, corev1.ResourceCPU, "")
}

func checkScaledObject(t *testing.T, g *config.Graph, n *config.Node, so *kedav1alpha1.ScaledObject, deployment, auth, namespace string) {
	t.Helper()
	d := n.Deploy
	if so.Kind != "ScaledObject" || so.APIVersion != "keda.sh/v1alpha1" || so.Namespace != namespace {
		t.Errorf("%s: kind %q apiVersion %q namespace %q", n.Name, so.Kind, so.APIVersion, so.Namespace)
	}
	ref := so.Spec.ScaleTargetRef
	if ref == nil || ref.Name != deployment || (ref.Kind != "" && ref.Kind != "Deployment") {
		t.Errorf("%s: scaleTargetRef %+v, want Deployment %s", n.Name, ref, deployment)
	}
	if so.Spec.MinReplicaCount == nil || int(*so.Spec.MinReplicaCount) != d.MinReplicas ||
		so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) != d.MaxReplicas {
		t.Errorf("%s: replicas %v-%v, want %d-%d", n.Name, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount, d.MinReplicas, d.MaxReplicas)
	}
	cooldown := int32(d.Cooldown.Seconds())
	if so.Spec.CooldownPeriod == nil || *so.Spec.CooldownPeriod != cooldown {
		t.Errorf("%s: cooldownPeriod %v, want %d", n.Name, so.Spec.CooldownPeriod, cooldown)
	}
	adv := so.Spec.Advanced
	if adv == nil || adv.HorizontalPodAutoscalerConfig == nil || adv.HorizontalPodAutoscalerConfig.Behavior == nil ||
		adv.HorizontalPodAutoscalerConfig.Behavior.ScaleDown == nil ||
		adv.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.StabilizationWindowSeconds == nil ||
		*adv.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.StabilizationWindowSeconds != cooldown {
		t.Errorf("%s: the HPA's scale-down stabilisation window is not the cooldown %ds: %+v", n.Name, cooldown, adv)
	}
	if len(so.Spec.Triggers) != 1 {
		t.Fatalf("%s: %d triggers, want 1", n.Name, len(so.Spec.Triggers))
	}
	tr := so.Spec.Triggers[0]
	want := map[string]string{
		"protocol": "amqp", "queueName": n.Edge.Queue, "mode": "QueueLength",
		"value": strings.TrimSpace(jsonInt(d.ReadyPerReplica)), "vhostName": g.Broker.Vhost,
	}
	if tr.Type != "rabbitmq" || !mapsEqual(tr.Metadata, want) {
		t.Errorf("%s: trigger %s %v, want rabbitmq %v", n.Name, tr.Type, tr.Metadata, want)
	}
	if _, ok := tr.Metadata["host"]; ok {
		t.Errorf("%s: the trigger names its host inline; it must come from the TriggerAuthentication", n.Name)
	}
	if tr.AuthenticationRef == nil || tr.AuthenticationRef.Name != auth || (tr.AuthenticationRef.Kind != "" && tr.AuthenticationRef.Kind != "TriggerAuthentication") {
		t.Errorf("%s: authenticationRef %+v, want TriggerAuthentication %s", n.Name, tr.AuthenticationRef, auth)
	}
}

func jsonInt(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCompose parses compose.yaml and checks each node's service.
func TestCompose(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			g := load(t, c.path, c.vars, nil)
			files := render(t, g, Options{Target: Compose, BuildDir: c.buildDir, Image: c.image})
			if want := []string{"Dockerfile", "README.md", "compose.yaml"}; !slices.Equal(names(files), want) {
				t.Fatalf("files %v, want %v", names(files), want)
			}
			var f struct {
				Name     string                    `json:"name"`
				Services map[string]map[string]any `json:"services"`
			}
			if err := yaml.Unmarshal(files["compose.yaml"], &f); err != nil {
				t.Fatalf("compose.yaml is not YAML: %v", err)
			}
			var want []string
			for _, n := range g.Nodes {
				if n.Kind != config.KindStart && n.Kind != config.KindTerminate {
					want = append(want, strings.ReplaceAll(n.Name, "_", "-"))
				}
			}
			slices.Sort(want)
			var have []string
			for name := range f.Services {
				have = append(have, name)
			}
			slices.Sort(have)
			if !slices.Equal(have, want) {
				t.Fatalf("services %v, want one per consuming node %v", have, want)
			}
			for _, n := range g.Nodes {
				s, ok := f.Services[strings.ReplaceAll(n.Name, "_", "-")]
				if !ok {
					continue
				}
				d := n.Deploy
				j, _ := json.Marshal(s)
				var svc struct {
					Image       string            `json:"image"`
					Entrypoint  []string          `json:"entrypoint"`
					Command     []string          `json:"command"`
					Environment map[string]string `json:"environment"`
					Deploy      struct {
						Replicas int `json:"replicas"`
					} `json:"deploy"`
					Healthcheck struct {
						Test []string `json:"test"`
					} `json:"healthcheck"`
					StopGracePeriod string `json:"stop_grace_period"`
				}
				if err := json.Unmarshal(j, &svc); err != nil {
					t.Fatalf("%s: %v", n.Name, err)
				}
				if svc.Deploy.Replicas != d.MinReplicas {
					t.Errorf("%s: replicas %d, want %d", n.Name, svc.Deploy.Replicas, d.MinReplicas)
				}
				argv := append(append([]string{}, svc.Entrypoint...), svc.Command...)
				if want := []string{"/usr/local/bin/" + g.Name, strings.ReplaceAll(n.Name, "_", "-"), "-metrics-addr", ":9090", "-shutdown-timeout", d.ShutdownGrace.String()}; !slices.Equal(argv, want) {
					t.Errorf("%s: runs %q, want %q", n.Name, argv, want)
				}
				if url := svc.Environment["DGE_AMQP_URL"]; !strings.HasPrefix(url, "${DGE_AMQP_URL") {
					t.Errorf("%s: DGE_AMQP_URL is %q, want it from the environment", n.Name, url)
				}
				if !slices.Contains(svc.Healthcheck.Test, "http://127.0.0.1:9090/readyz") {
					t.Errorf("%s: healthcheck %q does not ask /readyz", n.Name, svc.Healthcheck.Test)
				}
				if want := (d.ShutdownGrace + GraceMargin).String(); svc.StopGracePeriod != want {
					t.Errorf("%s: stop_grace_period %q, want %q", n.Name, svc.StopGracePeriod, want)
				}
			}
		})
	}
}

// TestNoSecret loads a graph whose broker block reads a URL with a
// password from the environment and checks the password appears in no
// file of either target.
func TestNoSecret(t *testing.T) {
	const password = "s3cr3t-Pa55word"
	src := `
graph "leak" {
  handlers = "example.com/leak/behaviour"
}
broker {
  vhost          = "prod"
  amqp_url       = env("DGE_AMQP_URL")
  management_url = env("DGE_MANAGEMENT_URL")
  password       = env("DGE_PASSWORD")
}
start "in" {}
process "work" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}
terminate "done" {
  from    = process.work
  queue   = "done"
  message = "Job"
}
`
	env := []string{
		"DGE_AMQP_URL=amqp://admin:" + password + "@rabbit.internal:5672/prod",
		"DGE_MANAGEMENT_URL=http://admin:" + password + "@rabbit.internal:15672",
		"DGE_PASSWORD=" + password,
	}
	g, diags := config.NewLoader().LoadSource("leak.dge.hcl", []byte(src), config.Options{Env: env})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	if !strings.Contains(g.Broker.AMQPURL, password) {
		t.Fatalf("the test's graph does not carry the password (AMQPURL %q): it would prove nothing", g.Broker.AMQPURL)
	}
	for _, target := range Targets {
		files := render(t, g, Options{Target: target, BuildDir: "cmd/leak"})
		for name, b := range files {
			for _, s := range []string{password, "rabbit.internal", "admin:"} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s %s holds %q from the broker's settings", target, name, s)
				}
			}
		}
	}
}

// TestRefusesBadNames: a name Kubernetes cannot take is an error that
// names the node, not a manifest the API server refuses.
func TestRefusesBadNames(t *testing.T) {
	src := `
graph "g" {
  handlers = "example.com/g/behaviour"
}
start "in" {}
process "ends_badly_" {
  from    = start.in
  queue   = "work"
  message = "Job"
  handler = "Work"
}
terminate "done" {
  from    = process.ends_badly_
  queue   = "done"
  message = "Job"
}
`
	g, diags := config.NewLoader().LoadSource("g.dge.hcl", []byte(src), config.Options{})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	_, err := Render(g, Options{Target: Kubernetes, BuildDir: "cmd/g"})
	if err == nil || !strings.Contains(err.Error(), "process.ends_badly_") || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("Render: %v, want an error naming process.ends_badly_ and saying to rename it", err)
	}
	good := load(t, "../../examples/fib", nil, nil)
	if _, err := Render(good, Options{Target: Kubernetes, BuildDir: "cmd/g"}); err != nil {
		t.Fatalf("Render of a good graph: %v", err)
	}
	for _, bad := range []Options{
		{Target: "helm", BuildDir: "cmd/g"},
		{Target: Kubernetes, BuildDir: "../elsewhere"},
		{Target: Kubernetes, BuildDir: "/abs/cmd/g"},
		{Target: Kubernetes, BuildDir: "cmd/g", Namespace: "Not_A_Namespace"},
	} {
		if _, err := Render(good, bad); err == nil {
			t.Errorf("Render with %+v: no error", bad)
		}
	}
}
