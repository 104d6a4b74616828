package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Deploy is how a node runs: the `deploy` block of any node but start,
// with defaults applied. dge run supervises and scales a node's replicas
// on one machine by it; dge deploy writes it into Kubernetes Deployments,
// KEDA ScaledObjects and Compose services.
type Deploy struct {
	// MinReplicas and MaxReplicas bound the node's replicas (processes,
	// pods); the scaler keeps the count between them.
	MinReplicas, MaxReplicas int
	// ReadyPerReplica is the number of ready messages in the node's queue
	// each replica is meant to take: the scaler aims at
	// ceil(ready / ReadyPerReplica) replicas, as KEDA's RabbitMQ trigger
	// does with mode QueueLength.
	ReadyPerReplica int
	// CPU and Memory are the resources a replica requests, as Kubernetes
	// quantities ("500m", "256Mi"); "" when the graph sets none. They are
	// the node's cost.
	CPU, Memory string
	// ShutdownGrace is how long a replica may take to finish its messages
	// in flight after SIGTERM (the node's -shutdown-timeout; Kubernetes'
	// termination grace period adds a margin to it).
	ShutdownGrace time.Duration
	// Cooldown is how long the queue must stay below the current
	// replicas' target before the scaler removes one.
	Cooldown time.Duration

	// DeclRange is the range of the block header; empty when the node has
	// no deploy block (the defaults).
	DeclRange hcl.Range
	// Ranges holds the range of the value of each attribute set, by its
	// name in the block (min_replicas, cpu...); nil without a block.
	Ranges map[string]hcl.Range
}

// The defaults of a deploy block's attributes: one replica, never scaled,
// which is how a graph without deploy blocks runs.
const (
	DefaultMinReplicas     = 1
	DefaultMaxReplicas     = 1
	DefaultReadyPerReplica = 100
	DefaultShutdownGrace   = 30 * time.Second
	DefaultCooldown        = 5 * time.Minute
)

// DefaultDeploy returns the Deploy of a node without a deploy block.
func DefaultDeploy() Deploy {
	return Deploy{
		MinReplicas: DefaultMinReplicas, MaxReplicas: DefaultMaxReplicas, ReadyPerReplica: DefaultReadyPerReplica,
		ShutdownGrace: DefaultShutdownGrace, Cooldown: DefaultCooldown,
	}
}

// deployAttrs are the arguments of a deploy block, in the order the
// diagnostics list them.
var deployAttrs = []string{"min_replicas", "max_replicas", "ready_per_replica", "cpu", "memory", "shutdown_grace", "cooldown"}

var deploySchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range deployAttrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}()

// deployDecl is a node's deploy block, decoded but not evaluated.
type deployDecl struct {
	declRange hcl.Range
	attrs     hcl.Attributes
}

// decodeDeploy records node d's deploy block b: refused on a start, and
// on a node that has one already.
func (s *state) decodeDeploy(d *nodeDecl, b *hcl.Block) {
	if d.kind == KindStart {
		s.errorf(b.DefRange.Ptr(), "Unexpected deploy block",
			"%s takes no deploy block: %s, with no process of its own to run or scale. Remove the block, and put deploy blocks on the nodes that do the work.", d.addr(), kindPurpose[KindStart])
		return
	}
	if d.deploy != nil {
		s.errorf(b.DefRange.Ptr(), "Duplicate deploy block",
			"%s already has a deploy block at %s. A node takes one: merge the two.", d.addr(), d.deploy.declRange)
		return
	}
	content, diags := b.Body.Content(deploySchema)
	for _, diag := range diags {
		switch diag.Summary {
		case "Unsupported argument":
			diag.Detail += fmt.Sprintf(" A deploy block takes: %s. Remove the argument, or fix its name.", strings.Join(deployAttrs, ", "))
		case "Unsupported block type":
			diag.Detail += fmt.Sprintf(" A deploy block holds only arguments: %s.", strings.Join(deployAttrs, ", "))
		}
	}
	s.diags = append(s.diags, diags...)
	d.deploy = &deployDecl{declRange: b.DefRange, attrs: content.Attributes}
}

// maxReplicas bounds replica counts and ready_per_replica: Kubernetes
// counts replicas in 32 bits.
const maxReplicas = math.MaxInt32

// buildDeploy evaluates node d's deploy block over the defaults.
func (s *state) buildDeploy(d *nodeDecl) Deploy {
	dep := DefaultDeploy()
	dd := d.deploy
	if dd == nil {
		return dep
	}
	dep.DeclRange = dd.declRange
	dep.Ranges = map[string]hcl.Range{}
	for name, attr := range dd.attrs {
		dep.Ranges[name] = attr.Expr.Range()
	}
	// sensitive tells which values derive from a sensitive variable: no
	// diagnostic shows them.
	sensitive := map[string]bool{}
	count := func(name string, dst *int, why string) bool {
		attr, ok := dd.attrs[name]
		if !ok {
			return true
		}
		v, sens, ok := s.evalCountWhy(attr, name, maxReplicas, why)
		sensitive[name] = sens
		if ok {
			*dst = v
		}
		return ok
	}
	minOK := count("min_replicas", &dep.MinReplicas, " dge keeps at least one replica of every node running: scaling to zero would need KEDA's activation, which dge does not set up.")
	maxOK := count("max_replicas", &dep.MaxReplicas, "")
	count("ready_per_replica", &dep.ReadyPerReplica, "")
	if minOK && maxOK && dep.MinReplicas > dep.MaxReplicas {
		shown := func(name string, v int) string {
			if sensitive[name] {
				return "(sensitive value)"
			}
			return strconv.Itoa(v)
		}
		minShown, maxShown := shown("min_replicas", dep.MinReplicas), shown("max_replicas", dep.MaxReplicas)
		if attr, ok := dd.attrs["max_replicas"]; ok {
			s.errorf(attr.Expr.Range().Ptr(), "Invalid replica range",
				"max_replicas is %s but min_replicas is %s: the scaler keeps the replicas between them, so max_replicas must be at least min_replicas. Raise max_replicas to min_replicas or more, or lower min_replicas.",
				maxShown, minShown)
		} else {
			s.errorf(dd.attrs["min_replicas"].Expr.Range().Ptr(), "Invalid replica range",
				"min_replicas is %s but max_replicas is %s (the default: no scaling): the scaler keeps the replicas between them. Add max_replicas = %s or more, or lower min_replicas.",
				minShown, maxShown, minShown)
		}
	}
	quantity := func(name string, dst *string, problem func(string) string) {
		attr, ok := dd.attrs[name]
		if !ok {
			return
		}
		v, sens, ok := s.evalString(attr, name)
		if !ok {
			return
		}
		if p := problem(v); p != "" {
			if sens {
				p = fmt.Sprintf("%s, from a sensitive value, is not a positive Kubernetes quantity (cpu in whole millicores, memory in whole bytes). %s", name, quantityForms)
			}
			s.errorf(attr.Expr.Range().Ptr(), "Invalid quantity", "%s", p)
			return
		}
		*dst = v
	}
	quantity("cpu", &dep.CPU, cpuProblem)
	quantity("memory", &dep.Memory, memoryProblem)
	duration := func(name string, dst *time.Duration, problem func(time.Duration) string) {
		attr, ok := dd.attrs[name]
		if !ok {
			return
		}
		v, sens, ok := s.evalDurationSens(attr, name, false)
		if !ok {
			return
		}
		if p := problem(v); p != "" {
			if sens {
				p = fmt.Sprintf("%s comes from a sensitive value, which is not a whole number of seconds (Kubernetes counts it in seconds)%s. Fix the variable's value.", name, map[bool]string{true: " or is longer than " + shortDuration(maxCooldown) + ", the longest the HorizontalPodAutoscaler holds a scale-down"}[name == "cooldown"])
			}
			s.errorf(attr.Expr.Range().Ptr(), "Invalid duration", "%s", p)
			return
		}
		*dst = v
	}
	duration("shutdown_grace", &dep.ShutdownGrace, shutdownGraceProblem)
	duration("cooldown", &dep.Cooldown, cooldownProblem)
	return dep
}

// quantityForms says what Kubernetes quantities look like, for
// diagnostics.
const quantityForms = `Kubernetes writes a quantity as a number with an optional suffix: cpu in cores, such as "2", "0.5" or "500m" (millicores); memory in bytes, such as "256Mi" or "1Gi" (binary suffixes Ki, Mi, Gi, Ti) or "500M" (decimal suffixes k, M, G, T).`

// quantityProblem describes what is wrong with a cpu or memory quantity,
// or returns "".
func quantityProblem(name, v string) (resource.Quantity, string) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return q, fmt.Sprintf("%s is %q, which is not a Kubernetes quantity. %s", name, v, quantityForms)
	}
	if q.Sign() <= 0 {
		return q, fmt.Sprintf("%s is %q; it must be more than zero. Write a positive quantity, or remove %s to request none.", name, v, name)
	}
	return q, ""
}

func cpuProblem(v string) string {
	q, p := quantityProblem("cpu", v)
	if p == "" && resource.NewMilliQuantity(q.MilliValue(), resource.DecimalSI).Cmp(q) != 0 {
		return fmt.Sprintf("cpu is %q, finer than a millicore: Kubernetes requests cpu in whole millicores. Round it to a number of millicores, such as \"%dm\".", v, q.MilliValue())
	}
	return p
}

func memoryProblem(v string) string {
	q, p := quantityProblem("memory", v)
	if p != "" || resource.NewQuantity(q.Value(), resource.BinarySI).Cmp(q) == 0 {
		return p
	}
	p = fmt.Sprintf("memory is %q, which is not a whole number of bytes.", v)
	if strings.HasSuffix(v, "m") {
		p += fmt.Sprintf(" The suffix m means thousandths, not mega: write %q for mebibytes, or %q for megabytes.", strings.TrimSuffix(v, "m")+"Mi", strings.TrimSuffix(v, "m")+"M")
	} else {
		p += " Write bytes with a suffix, such as \"256Mi\" or \"1Gi\"."
	}
	return p
}

// maxCooldown is the longest cooldown Kubernetes' HorizontalPodAutoscaler
// takes (its stabilizationWindowSeconds go up to 3600).
const maxCooldown = time.Hour

func cooldownProblem(d time.Duration) string {
	switch {
	case d%time.Second != 0:
		return fmt.Sprintf("cooldown is %s; Kubernetes' HorizontalPodAutoscaler counts it in whole seconds. Write a whole number of seconds, such as \"5m\" or \"90s\".", shortDuration(d))
	case d > maxCooldown:
		return fmt.Sprintf("cooldown is %s; Kubernetes' HorizontalPodAutoscaler holds a scale-down for at most %s. Write a cooldown of %s or less.", shortDuration(d), shortDuration(maxCooldown), shortDuration(maxCooldown))
	}
	return ""
}

func shutdownGraceProblem(d time.Duration) string {
	if d%time.Second != 0 {
		return fmt.Sprintf("shutdown_grace is %s; Kubernetes counts a pod's termination grace period in whole seconds. Write a whole number of seconds, such as \"30s\".", shortDuration(d))
	}
	return ""
}

// shortDuration writes d as time.Duration does, without its zero minutes
// and seconds: "2h", not "2h0m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
