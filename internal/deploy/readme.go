package deploy

import (
	"fmt"
	"path"
	"strings"

	"github.com/dgehq/dge/config"
)

// readme says what the files hold and the steps that come before them:
// the image, the broker URL, the topology (dge apply), and how each node
// scales.
func readme(g *config.Graph, o Options, nodes []node) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	vhost := g.Broker.Vhost
	p("%s", Header)
	p("")
	switch o.Target {
	case Kubernetes:
		p("Kubernetes manifests of graph %q, written by `dge deploy -target kubernetes`:", g.Name)
		p("")
		for _, n := range nodes {
			p("- `%s`: the Deployment and KEDA ScaledObject `%s` of %s.%s;", NodeFile(n.command), n.object, n.Kind, n.Name)
		}
		p("- `%s`: the KEDA TriggerAuthentication `%s`, how KEDA reads the broker;", AuthFile, authName(g))
		p("- `Dockerfile`: the image of the program.")
	case Compose:
		p("A Compose project for graph %q, written by `dge deploy -target compose`:", g.Name)
		p("`compose.yaml` (one service per node) and `Dockerfile` (the image of the program).")
	}
	p("")
	p("## 1. Build the image")
	p("")
	p("Run `dge generate` after every change to the graph, then, from the root of")
	p("the program's Go module (the folder with go.mod; the program is `./%s`):", path.Clean(o.BuildDir))
	p("")
	p("```sh")
	p("docker build -f PATH/TO/THIS/Dockerfile -t %s .", o.Image)
	p("```")
	p("")
	p("The module must build on its own: a go.mod that replaces github.com/dgehq/dge")
	p("with a folder outside the module cannot build in Docker; require a published")
	p("version instead. The image runs the program as user %d, not root.", UID)
	if o.Target == Kubernetes {
		p("Push it where the cluster pulls from (and pass that name to `dge deploy -image`).")
	}
	p("")
	p("## 2. Make the broker hold the topology")
	p("")
	p("Nodes never declare queues: each checks the topology when it connects, and")
	p("one that finds a queue missing exits, saying to run dge apply (and is")
	p("restarted with a backoff). Apply the graph first, from a machine that")
	p("reaches the broker's management API, with the same variables as for this")
	p("output (vhost %q):", vhost)
	p("")
	p("```sh")
	p("dge apply            # in the graph's folder; add the -var flags you gave dge deploy")
	p("```")
	p("")
	p("Run it again, before rolling out the new image, whenever the graph changes.")
	p("")
	p("## 3. Give the nodes the broker's URL")
	p("")
	p("The URL holds the broker's password, so no file here contains it. Give one")
	p("AMQP URL, without a vhost: the program adds vhost %q.", vhost)
	p("")
	switch o.Target {
	case Kubernetes:
		ns := ""
		if o.Namespace != "" {
			ns = " -n " + o.Namespace
		}
		p("```sh")
		p("kubectl create secret generic %s%s \\", SecretName(g.Name), ns)
		p("  --from-literal=%s='amqp://USER:PASSWORD@RABBITMQ-HOST:5672'", SecretKey)
		p("```")
		p("")
		p("The nodes read it as DGE_AMQP_URL; KEDA reads the same key as its rabbitmq")
		p("trigger's host (so one URL, not a comma-separated list of a cluster's nodes:")
		p("name a Service in front of them).")
		p("")
		p("## 4. Apply the manifests")
		p("")
		p("KEDA (2.x) must be installed in the cluster. Then, in this folder:")
		p("")
		p("```sh")
		p("kubectl apply -f .")
		p("```")
	case Compose:
		p("```sh")
		p("echo 'DGE_AMQP_URL=amqp://USER:PASSWORD@RABBITMQ-HOST:5672' > .env   # beside compose.yaml; keep it out of git")
		p("docker compose up -d")
		p("```")
		p("")
		p("Inside a container, 127.0.0.1 is the container itself: name the broker's host")
		p("as the containers reach it (host.docker.internal, or a service's name).")
		p("Each service's healthcheck asks /readyz with the image's wget.")
	}
	p("")
	p("## How the nodes run")
	p("")
	p("Each replica runs `%s NODE -metrics-addr :%d -shutdown-timeout GRACE` and serves", g.Name, MetricsPort)
	p("/metrics (Prometheus), /healthz (the process runs) and /readyz (connected, topology")
	p("verified) on port %d. At SIGTERM it stops taking messages and finishes those in", MetricsPort)
	p("flight within GRACE; the platform waits GRACE + %s before it kills it.", GraceMargin)
	p("")
	p("| node | queue | replicas | ready per replica | cooldown | grace | cpu | memory |")
	p("| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, n := range nodes {
		d := n.Deploy
		p("| %s.%s | %s | %d-%d | %d | %s | %s | %s | %s |", n.Kind, n.Name, n.Edge.Queue, d.MinReplicas, d.MaxReplicas, d.ReadyPerReplica, d.Cooldown, d.ShutdownGrace, orNone(d.CPU), orNone(d.Memory))
	}
	p("")
	switch o.Target {
	case Kubernetes:
		p("KEDA scales each Deployment from its queue's ready messages (trigger rabbitmq,")
		p("mode QueueLength): desired = ceil(ready / ready per replica), kept between the")
		p("node's minimum and maximum. It scales up at once; it scales down only when the")
		p("desired count has stayed below the current one for the whole cooldown (the")
		p("HorizontalPodAutoscaler's scale-down stabilisation window). A Deployment starts")
		p("with its minimum; KEDA owns the count from then on. `dge run` applies the same")
		p("rule on one machine.")
	case Compose:
		p("Compose runs each node's minimum replicas and does not scale them: change the")
		p("count with `docker compose up -d --scale SERVICE=N`, or use `dge run` (one")
		p("machine, scaled by queue depth) or `dge deploy -target kubernetes` (KEDA).")
	}
	return []byte(b.String())
}

// orNone is s, or "none" when it is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
