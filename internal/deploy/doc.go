// Package deploy renders what a cluster needs to run a graph's generated
// program, from a config.Graph: `dge deploy` writes its files.
//
// Render returns the files of one Target, each starting with Header:
//
//   - Kubernetes: per consuming node (every kind but start and
//     terminate) a file node-<command>.yaml holding an apps/v1
//     Deployment and a KEDA ScaledObject, and keda-auth.yaml, the
//     TriggerAuthentication the ScaledObjects share;
//   - Compose: compose.yaml, one service per consuming node;
//   - both: a Dockerfile that builds the program and a README.md that
//     says how to build, what to create first (the broker Secret, the
//     topology with dge apply) and how each node scales.
//
// A Deployment runs `<program> <node-command> -metrics-addr :9090
// -shutdown-timeout <grace>`, starts with the node's minimum replicas
// (KEDA then owns the count), requests the node's cpu and memory (memory
// is its limit too), reads DGE_AMQP_URL from the Secret
// dge-<graph>-broker (key amqp-url) and is probed on /readyz and
// /healthz. Its ScaledObject scales it between the node's minimum and
// maximum with KEDA's rabbitmq trigger in mode QueueLength (target:
// ready_per_replica) on the node's queue and the graph's vhost, and holds
// a scale-down for the node's cooldown (the HPA's stabilisation window):
// the rule dge run applies on one machine.
//
// No broker URL or password is ever written: manifests name the Secret,
// Compose reads ${DGE_AMQP_URL} from the environment it runs in.
//
// Output is deterministic: the same graph and Options give the same bytes.
// Kubernetes objects are built with the Kubernetes API's Go types; the
// tests decode every one strictly, the KEDA objects with KEDA's own types.
package deploy
