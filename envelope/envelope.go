// Package envelope names what dge writes on a message besides its body:
// the AMQP headers of its messages, parked copies and failure notices, and
// the reasons a node parks a message for. The runtime that writes them and
// the commands that read them (dge parked) share these names. The package
// depends on nothing, so importing it brings no broker client or tracing
// library with it.
package envelope

import (
	"encoding/json"
	"time"
)

// The headers the runtime sets on every message it publishes.
const (
	HeaderRunID   = "x-dge-run-id"  // the run the message belongs to
	HeaderSource  = "x-dge-source"  // address of the node that published it
	HeaderAttempt = "x-dge-attempt" // attempt of the handler that produced it; on a parked copy, attempts made
)

// The headers of a parked copy (a message in a dead queue, Q.dead).
const (
	HeaderReason = "x-dge-reason" // why it was parked: a Reason
	HeaderError  = "x-dge-error"  // the last error's text
	HeaderNode   = "x-dge-node"   // address of the node that parked it
	// HeaderParkedAt is when the message was parked (RFC 3339, UTC), set by
	// the node that parked it; a copy the broker dead-lettered has none, and
	// its x-death header's time says when.
	HeaderParkedAt = "x-dge-parked-at"
)

// HeaderRedriven counts how often dge parked redrive put a message back.
// Nodes copy it to their outputs, so that an aggregate lets a redriven run
// join again after it failed.
const HeaderRedriven = "x-dge-redriven"

// Headers of the messages of some node kinds.
const (
	HeaderFirstSeen = "x-dge-first-seen" // aggregate parts: when the aggregate first saw the part (RFC 3339, UTC)
	HeaderPollSince = "x-dge-poll-since" // poll messages: when polling started (RFC 3339, UTC)
	HeaderSuspect   = "x-dge-suspect"    // aggregate parts: came back from a consumer that died or lost its channel
	HeaderCrashes   = "x-dge-crashes"    // aggregate parts: handler calls of the part's group that may have crashed
)

// HeaderSplit says which splits a message is an item of: one frame per
// split it is inside, the outermost first, joined by ";". A frame is
// "<split node name>:<split ID>:<index>:<count>": the split ID is the same
// for every redelivery of the split's input, the index counts from 0. A
// frame with count 0 marks the message as the one a split of no items
// sends to its gather (empty body). Nodes between a split and its gather
// copy it from input to output; a gather removes the last frame.
const HeaderSplit = "x-dge-split"

// HeaderState marks a message of a gather's state queue (Q.state): a
// checkpoint ("checkpoint"), or a marker the gather's instances exchange
// to learn which of them is active ("hello", "sync").
const HeaderState = "x-dge-state"

// The values of HeaderState.
const (
	// StateCheckpoint: a checkpoint of a gather (JSON: a Checkpoint), or
	// the parked copy of one split's state, which dge parked redrive may
	// put back on the gather's queue (the gather adopts it).
	StateCheckpoint = "checkpoint"
	// StateHello: an instance of a gather has started.
	StateHello = "hello"
	// StateSync: the active instance of a gather reads Q.state up to this
	// marker before it takes items.
	StateSync = "sync"
)

// Checkpoint is the JSON body of a message of a gather's state queue
// marked StateCheckpoint: the current versions of some of its splits'
// states, written by the active instance (Epoch) and read back by the
// next. A gather's parked state of a split is a Checkpoint of one state.
type Checkpoint struct {
	Epoch   uint64       `json:"epoch"`
	Session string       `json:"session,omitempty"`
	States  []SplitState `json:"states"`
}

// SplitState is what a gather holds of one split: the indexes in, and
// the accumulator (fold form) or the items (list form).
type SplitState struct {
	ID          string                  `json:"id"`                 // the split's ID (its frame's)
	RunID       string                  `json:"run_id"`             // the run the split belongs to
	Split       string                  `json:"split"`              // the split node's name
	Outer       string                  `json:"outer,omitempty"`    // the frames around the split (HeaderSplit)
	Count       int                     `json:"count"`              // items of the split
	Have        []byte                  `json:"have"`               // the index set, little-endian bits
	Epoch       uint64                  `json:"epoch"`              // the version: the writer's epoch,
	Seq         uint64                  `json:"seq"`                // then its sequence
	FirstSeen   time.Time               `json:"first_seen"`         // when its first item arrived
	Attempt     int                     `json:"attempt"`            // of the list handler's call
	Redriven    int                     `json:"redriven,omitempty"` // HeaderRedriven of its items
	Failed      *Failure                `json:"failed"`             // where an item of it failed, if one did
	Acc         json.RawMessage         `json:"acc,omitempty"`      // the fold form's accumulator
	Items       map[int]json.RawMessage `json:"items,omitempty"`    // the list form's items by index
	TraceParent string                  `json:"traceparent,omitempty"`
	TraceState  string                  `json:"tracestate,omitempty"`
}

// Failure says where and why a run failed, as a failure notice's headers
// do: the node that parked a message of the run, the Reason, the error.
type Failure struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// States returns every value HeaderState may take.
func States() []string { return []string{StateCheckpoint, StateHello, StateSync} }

// The headers of a failure notice, which tells the nodes downstream that a
// run failed. HeaderFailedNode marks a message as one.
const (
	HeaderFailedNode   = "x-dge-failed-node"   // address of the node where the run's message was parked
	HeaderFailedReason = "x-dge-failed-reason" // the park Reason there
	HeaderFailedError  = "x-dge-failed-error"  // the error text there
)

// The W3C trace context headers: every message a traced runtime publishes
// carries the context of the span that published it.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Reason says why a node parked a message: the value of HeaderReason on
// the parked copy, and of HeaderFailedReason on the failure notice it sent.
type Reason string

// The reasons the runtime parks a message for.
const (
	// MaxAttempts: the handler failed on the edge's last attempt, or the
	// message arrived past it.
	MaxAttempts Reason = "max-attempts"
	// Permanent: the handler returned an error marked permanent, or the
	// node could not encode or publish its output.
	Permanent Reason = "permanent"
	// Decode: the body does not decode as the edge's message type, or the
	// message carries a forged dead-letter history.
	Decode Reason = "decode"
	// BadHeader: a header or property the runtime cannot use or copy.
	BadHeader Reason = "bad-header"
	// Timeout: a poll job was not done within the node's timeout.
	Timeout Reason = "timeout"
	// IncompleteGroup: an aggregate's group of a run was not complete
	// within the node's timeout.
	IncompleteGroup Reason = "incomplete-group"
	// MemberFailed: an aggregate's part whose run failed elsewhere, so
	// that it can never be joined; or a gather's split that never
	// completed after one of its items failed.
	MemberFailed Reason = "member-failed"
	// NoRoute: a route's handler returned a label that no path of the
	// route takes, and the route has no default path.
	NoRoute Reason = "no-route"
	// IncompleteSplit: a gather's split whose items had not all arrived
	// within the node's timeout (its folded state is parked).
	IncompleteSplit Reason = "incomplete-split"
	// DeliveryLimit: the message was delivered so often without being
	// settled (a crash loop) that it is one short of the queue's
	// delivery-limit, or the broker dead-lettered it for that limit.
	DeliveryLimit Reason = "delivery-limit"
	// Unroutable: the broker returned the node's output as unroutable (312
	// NO_ROUTE): no queue is bound to the key it published with, as when
	// the graph's topology was changed (a rename applied) while the node
	// still runs a program generated from the old graph.
	Unroutable Reason = "unroutable"
)

// Reasons returns every reason the runtime parks a message for.
func Reasons() []Reason {
	return []Reason{MaxAttempts, Permanent, Decode, BadHeader, Timeout, IncompleteGroup, MemberFailed, NoRoute, IncompleteSplit, DeliveryLimit, Unroutable}
}
