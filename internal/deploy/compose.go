package deploy

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/dgehq/dge/config"
)

// The Compose file's shape: the parts of the Compose specification dge
// writes.

type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
}

type composeService struct {
	Image           string            `json:"image"`
	Entrypoint      []string          `json:"entrypoint"`
	Command         []string          `json:"command"`
	Environment     map[string]string `json:"environment"`
	Labels          map[string]string `json:"labels"`
	Deploy          composeDeploy     `json:"deploy"`
	Healthcheck     composeHealth     `json:"healthcheck"`
	StopGracePeriod string            `json:"stop_grace_period"`
	Restart         string            `json:"restart"`
}

type composeDeploy struct {
	Replicas  int              `json:"replicas"`
	Resources composeResources `json:"resources,omitzero"`
}

type composeResources struct {
	Limits       *composeResource `json:"limits,omitempty"`
	Reservations *composeResource `json:"reservations,omitempty"`
}

type composeResource struct {
	CPUs   string `json:"cpus,omitempty"`
	Memory string `json:"memory,omitempty"`
}

type composeHealth struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod string   `json:"start_period"`
}

// AMQPURLFromEnv is the value of DGE_AMQP_URL in compose.yaml: Compose
// reads the URL from the environment it runs in (or a .env file), and
// refuses to start without it.
const AMQPURLFromEnv = "${DGE_AMQP_URL:?set DGE_AMQP_URL to the broker URL}"

// compose renders compose.yaml: one service per consuming node.
func compose(g *config.Graph, o Options, nodes []node) ([]byte, error) {
	f := composeFile{Name: kebab(g.Name), Services: map[string]composeService{}}
	for _, n := range nodes {
		s := composeService{
			Image:       o.Image,
			Entrypoint:  []string{programPath(g)},
			Command:     nodeArgs(n),
			Environment: map[string]string{"DGE_AMQP_URL": AMQPURLFromEnv},
			Labels:      map[string]string{labelName: g.Name, labelComponent: n.Name},
			Deploy:      composeDeploy{Replicas: n.Deploy.MinReplicas},
			Healthcheck: composeHealth{
				// The image is alpine's (see the Dockerfile): busybox's wget
				// fails on a 503, which /readyz answers until the node is
				// connected with its topology verified.
				Test:     []string{"CMD", "wget", "-q", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/readyz", MetricsPort)},
				Interval: "10s", Timeout: "3s", Retries: 3, StartPeriod: "10s",
			},
			StopGracePeriod: terminationGrace(n).String(),
			Restart:         "unless-stopped",
		}
		if n.Deploy.CPU != "" || n.Deploy.Memory != "" {
			r := &composeResource{}
			if n.Deploy.CPU != "" {
				q := resource.MustParse(n.Deploy.CPU)
				r.CPUs = cores(q)
			}
			if n.Deploy.Memory != "" {
				q := resource.MustParse(n.Deploy.Memory)
				r.Memory = strconv.FormatInt(q.Value(), 10)
				s.Deploy.Resources.Limits = &composeResource{Memory: r.Memory}
			}
			s.Deploy.Resources.Reservations = r
		}
		f.Services[n.command] = s
	}
	b, err := marshalYAML(f)
	if err != nil {
		return nil, fmt.Errorf("write compose.yaml: %w", err)
	}
	intro := fmt.Sprintf("# Graph %q: one service per node that consumes a queue. Build the image first (README.md beside this file);\n# DGE_AMQP_URL comes from the environment, never from this file. Memory is in bytes.\n", g.Name)
	return withHeader(intro, b), nil
}

// cores is a cpu quantity in cores, as Compose writes cpus: "0.5", "2".
func cores(q resource.Quantity) string {
	m := q.MilliValue()
	s := fmt.Sprintf("%d.%03d", m/1000, m%1000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
