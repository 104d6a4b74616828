package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
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
	// Ranges holds the range of each attribute set, by name.
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
