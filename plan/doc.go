// Package plan computes what dge must change on a RabbitMQ vhost to make it
// hold the topology a graph needs.
//
// Desired derives that topology from a config.Graph, as Objects: the
// exchanges, queues and bindings package topology derives for every reader
// alike (the runtime and its in-memory broker too), with plan's ownership
// stamp and a handful of policies on top. A Snapshot is the live vhost's
// Objects, normalised
// (an absent x-queue-type is classic, numbers compare by value, default
// exchange bindings are dropped), read through the narrow Reader interface
// that internal/mgmt implements with a constant number of management API
// requests. New diffs the two into a Plan: plain data, rendered to text
// (Render) and JSON (the same struct, with a format_version), and saved to a
// file that apply refuses once the live state it was made from has moved on
// (Fingerprint).
//
// Ownership decides what a plan may touch. Queues and exchanges stamped with
// the argument x-dge-graph = <graph> are owned; unstamped ones, and those
// stamped by another graph, are foreign and never touched, unless an
// unstamped one is named in the broker block's adopt list. Policies are
// owned by their name, dge.<graph>.<role>. A binding is owned when its
// source exchange and its destination are owned. A desired name held by a
// foreign object makes New fail with a *ConflictError.
//
// Foreign policies. RabbitMQ applies one policy to a queue, the one of the
// highest priority, so another policy above dge's would silently replace
// them. What delivery depends on is therefore in queue arguments, which no
// policy overrides (topology.Arguments), and New also reports, as error diagnostics
// of the plan, every queue of the graph that another policy would govern
// instead of dge's, or that a policy or operator policy would expire, cap
// or dead-letter messages of, a gather's checkpoints in its state queue
// Q.state above all (CheckPolicies). apply refuses a plan with errors.
//
// The temporary queues of apply -keep-messages (KeepName, marked with
// KeepArg) are owned but never orphans: a plan lists the ones an
// interrupted apply left as PendingMoves.
package plan
