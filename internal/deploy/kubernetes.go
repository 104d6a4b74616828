package deploy

import (
	"bytes"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dgehq/dge/config"
)

// The well-known labels every object carries.
const (
	labelName      = "app.kubernetes.io/name"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
)

// AuthFile is the file that holds the KEDA TriggerAuthentication.
const AuthFile = "keda-auth.yaml"

// NodeFile is the file that holds a node's Deployment and ScaledObject.
func NodeFile(command string) string { return "node-" + command + ".yaml" }

// kubernetes adds the Kubernetes manifests of g's nodes to files.
func kubernetes(files map[string][]byte, g *config.Graph, o Options, nodes []node) error {
	auth, err := document(triggerAuthentication(g, o))
	if err != nil {
		return err
	}
	files[AuthFile] = withHeader(fmt.Sprintf("# How KEDA reads the broker of graph %q: parameter host from the Secret %s (key %s).\n", g.Name, SecretName(g.Name), SecretKey), auth)
	for _, n := range nodes {
		dep, err := document(deployment(g, o, n))
		if err != nil {
			return err
		}
		so, err := document(scaledObject(g, o, n))
		if err != nil {
			return err
		}
		intro := fmt.Sprintf("# %s.%s: consumes queue %q; %s.\n", n.Kind, n.Name, n.Edge.Queue, replicaRange(n))
		files[NodeFile(n.command)] = withHeader(intro, dep, []byte("---\n"), so)
	}
	return nil
}

// replicaRange says how many replicas n runs.
func replicaRange(n node) string {
	d := n.Deploy
	if d.MinReplicas == d.MaxReplicas {
		return config.Plural(d.MinReplicas, "replica") + ", not scaled"
	}
	return fmt.Sprintf("%d to %d replicas, one per %d ready messages", d.MinReplicas, d.MaxReplicas, d.ReadyPerReplica)
}

// document is v as one YAML document.
func document(v any) ([]byte, error) {
	b, err := marshalYAML(v)
	if err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return b, nil
}

// withHeader joins Header, intro and parts.
func withHeader(intro string, parts ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	b.WriteString(intro)
	for _, p := range parts {
		b.Write(p)
	}
	return b.Bytes()
}

// meta is the metadata of an object of node n ("" for the graph's).
func meta(g *config.Graph, o Options, name, component string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels(g, component)}
	m.Labels[labelManagedBy] = "dge"
	return m
}

// labels selects the pods of one node of g (all of g's when component
// is "").
func labels(g *config.Graph, component string) map[string]string {
	l := map[string]string{labelName: g.Name}
	if component != "" {
		l[labelComponent] = component
	}
	return l
}

// deployment is node n's Deployment.
func deployment(g *config.Graph, o Options, n node) *appsv1.Deployment {
	replicas := int32(n.Deploy.MinReplicas)
	grace := seconds(terminationGrace(n))
	nonRoot, noEscalation := true, false
	uid := int64(UID)
	port := intstr.FromString("metrics")
	c := corev1.Container{
		Name:    n.command,
		Image:   o.Image,
		Command: []string{programPath(g)},
		Args:    nodeArgs(n),
		Ports:   []corev1.ContainerPort{{Name: "metrics", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "DGE_AMQP_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(g.Name)}, Key: SecretKey,
			}}},
			{Name: "DGE_CONNECTION_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: port}},
			PeriodSeconds: 5, FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: port}},
			PeriodSeconds: 10, FailureThreshold: 3,
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &noEscalation,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if n.Deploy.CPU != "" || n.Deploy.Memory != "" {
		c.Resources.Requests = corev1.ResourceList{}
	}
	if n.Deploy.CPU != "" {
		c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(n.Deploy.CPU)
	}
	if n.Deploy.Memory != "" {
		m := resource.MustParse(n.Deploy.Memory)
		c.Resources.Requests[corev1.ResourceMemory] = m
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: m}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(g, o, n.object, n.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(g, n.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: labels(g, n.Name),
					Annotations: map[string]string{
						"prometheus.io/scrape": "true",
						"prometheus.io/port":   strconv.Itoa(MetricsPort),
						"prometheus.io/path":   "/metrics",
					},
				},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{c},
					TerminationGracePeriodSeconds: &grace,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: &nonRoot, RunAsUser: &uid, RunAsGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
				},
			},
		},
	}
}

// The KEDA objects, as keda.sh/v1alpha1 defines them (the tests decode
// them strictly with KEDA's own types). Only the fields dge sets.

type scaledObjectYAML struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            scaledObjectSpec  `json:"spec"`
}

type scaledObjectSpec struct {
	ScaleTargetRef  scaleTarget      `json:"scaleTargetRef"`
	MinReplicaCount int32            `json:"minReplicaCount"`
	MaxReplicaCount int32            `json:"maxReplicaCount"`
	CooldownPeriod  int64            `json:"cooldownPeriod"`
	Advanced        advancedConfig   `json:"advanced"`
	Triggers        []scaleTriggerYA `json:"triggers"`
}

type scaleTarget struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type advancedConfig struct {
	HorizontalPodAutoscalerConfig hpaConfig `json:"horizontalPodAutoscalerConfig"`
}

type hpaConfig struct {
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior"`
}

type scaleTriggerYA struct {
	Type              string            `json:"type"`
	Metadata          map[string]string `json:"metadata"`
	AuthenticationRef authRef           `json:"authenticationRef"`
}

type authRef struct {
	Name string `json:"name"`
}

type triggerAuthYAML struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            triggerAuthSpec   `json:"spec"`
}

type triggerAuthSpec struct {
	SecretTargetRef []secretTarget `json:"secretTargetRef"`
}

type secretTarget struct {
	Parameter string `json:"parameter"`
	Name      string `json:"name"`
	Key       string `json:"key"`
}

// kedaAPI is the API version of KEDA's objects.
const kedaAPI = "keda.sh/v1alpha1"

// authName is the name of g's TriggerAuthentication.
func authName(g *config.Graph) string { return "dge-" + kebab(g.Name) + "-rabbitmq" }

// triggerAuthentication tells KEDA to read its rabbitmq trigger's host
// from the broker Secret.
func triggerAuthentication(g *config.Graph, o Options) *triggerAuthYAML {
	return &triggerAuthYAML{
		TypeMeta: metav1.TypeMeta{APIVersion: kedaAPI, Kind: "TriggerAuthentication"},
		Metadata: meta(g, o, authName(g), ""),
		Spec: triggerAuthSpec{SecretTargetRef: []secretTarget{
			{Parameter: "host", Name: SecretName(g.Name), Key: SecretKey},
		}},
	}
}

// scaledObject scales node n's Deployment on its queue's ready messages:
// desired = ceil(ready / ready_per_replica) between min and max, up at
// once, down only after the cooldown (the HPA's stabilisation window).
func scaledObject(g *config.Graph, o Options, n node) *scaledObjectYAML {
	cooldown := int32(seconds(n.Deploy.Cooldown))
	zero := int32(0)
	return &scaledObjectYAML{
		TypeMeta: metav1.TypeMeta{APIVersion: kedaAPI, Kind: "ScaledObject"},
		Metadata: meta(g, o, n.object, n.Name),
		Spec: scaledObjectSpec{
			ScaleTargetRef:  scaleTarget{APIVersion: "apps/v1", Kind: "Deployment", Name: n.object},
			MinReplicaCount: int32(n.Deploy.MinReplicas),
			MaxReplicaCount: int32(n.Deploy.MaxReplicas),
			CooldownPeriod:  seconds(n.Deploy.Cooldown),
			Advanced: advancedConfig{HorizontalPodAutoscalerConfig: hpaConfig{Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &cooldown},
			}}},
			Triggers: []scaleTriggerYA{{
				Type: "rabbitmq",
				Metadata: map[string]string{
					"protocol":  "amqp",
					"queueName": n.Edge.Queue,
					"mode":      "QueueLength",
					"value":     strconv.Itoa(n.Deploy.ReadyPerReplica),
					"vhostName": g.Broker.Vhost,
				},
				AuthenticationRef: authRef{Name: authName(g)},
			}},
		},
	}
}
