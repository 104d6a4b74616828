package plan

import (
	"fmt"
	"strings"
)

// FormatVersion is the version of the plan's JSON form. A saved plan of
// another format version is refused.
const FormatVersion = "1.0"

// Action is what a change does to its object.
type Action string

// The actions of a plan. Objects that already match are left out.
const (
	Create  Action = "create"
	Update  Action = "update"  // in place (policies only)
	Replace Action = "replace" // delete, then create: a queue's messages are lost
	Delete  Action = "delete"
)

// Kind is the kind of broker object a change is about.
type Kind string

// The kinds of broker object dge manages, in the order apply creates them.
const (
	KindExchange Kind = "exchange"
	KindQueue    Kind = "queue"
	KindBinding  Kind = "binding"
	KindPolicy   Kind = "policy"
)

var kindOrder = map[Kind]int{KindExchange: 0, KindQueue: 1, KindBinding: 2, KindPolicy: 3}

// Plan is what dge would change on a vhost: plain data, rendered to text by
// Render and to JSON by encoding/json.
type Plan struct {
	FormatVersion string `json:"format_version"`
	DgeVersion    string `json:"dge_version"`
	Graph         string `json:"graph"`
	Vhost         string `json:"vhost"`
	// ManagementEndpoint is the management API the plan was read from
	// (without credentials); apply of a saved plan talks to it unless
	// DGE_MANAGEMENT_URL says otherwise.
	ManagementEndpoint string `json:"management_endpoint,omitempty"`
	// Destroy is true for a plan that removes everything the graph owns.
	Destroy bool `json:"destroy,omitempty"`
	// Changes are in the order apply executes them: creates, replaces and
	// updates by kind (exchanges, queues, bindings, policies), then deletes
	// in the reverse kind order; by address within a kind.
	Changes []Change `json:"changes"`
	// LiveFingerprint is a hash of the live objects the plan touches or
	// depends on; apply refuses a saved plan when it no longer matches.
	LiveFingerprint string `json:"live_fingerprint"`
	// Desired is the objects the plan was made for (empty for a destroy
	// plan but for its Owner and Vhost).
	Desired Objects `json:"desired"`
	// Diagnostics are problems of the live vhost found beside the changes
	// (see CheckPolicies); apply refuses a plan with an error among them.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// PendingMoves are the temporary queues that an interrupted
	// apply -keep-messages left holding a queue's messages; the next
	// apply -keep-messages moves them back.
	PendingMoves []PendingMove `json:"pending_moves,omitempty"`
}

// KeepSuffix ends the name of the temporary queue that holds a queue's
// messages while apply -keep-messages replaces it: input.dge-keep.
const KeepSuffix = ".dge-keep"

// KeepArg is the argument that marks a temporary queue of
// apply -keep-messages, its value the queue whose messages it holds. A
// temporary queue is owned (stamped) but never an orphan: the plan lists it
// as a PendingMove until its messages are back.
const KeepArg = "x-dge-keep"

// KeepName returns the name of queue's temporary queue.
func KeepName(queue string) string { return queue + KeepSuffix }

// PendingMove is a temporary queue holding messages of Queue.
type PendingMove struct {
	Temporary string `json:"temporary"`
	Queue     string `json:"queue"`
	// Messages is its count as last read (it may lag by seconds).
	Messages int64 `json:"messages"`
}

// Errors returns the plan's error diagnostics.
func (p *Plan) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range p.Diagnostics {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// DiagnosticError refuses a plan with error diagnostics: apply must not
// change a vhost on which the graph would not run safely.
type DiagnosticError struct {
	Vhost       string
	Diagnostics []Diagnostic
}

func (e *DiagnosticError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "vhost %q is not safe for the graph:", e.Vhost)
	for _, d := range e.Diagnostics {
		sb.WriteString("\n  " + d.Summary)
	}
	sb.WriteString("\nnothing was changed; see the errors above, fix them, then run dge plan or dge apply again")
	return sb.String()
}

// Err returns a *DiagnosticError when the plan has error diagnostics.
func (p *Plan) Err() error {
	if errs := p.Errors(); len(errs) > 0 {
		return &DiagnosticError{Vhost: p.Vhost, Diagnostics: errs}
	}
	return nil
}

// isTemporary reports whether a live queue is a temporary queue of
// apply -keep-messages, and for which queue.
func isTemporary(q Queue) (string, bool) {
	v, ok := q.Arguments[KeepArg].(string)
	return v, ok && q.Name == KeepName(v)
}

// Change is one action on one broker object. Before is the live object
// (nil for a create), After the desired one (nil for a delete).
type Change struct {
	Action  Action  `json:"action"`
	Kind    Kind    `json:"kind"`
	Address string  `json:"address"`
	Before  *Object `json:"before,omitempty"`
	After   *Object `json:"after,omitempty"`
	// ForcedBy names the attributes whose change forces a replace.
	ForcedBy []string `json:"forced_by,omitempty"`
	// Messages and Consumers are the counts of a queue that a delete or
	// replace would lose, as last read (they may lag by seconds).
	Messages  int64 `json:"messages,omitempty"`
	Consumers int64 `json:"consumers,omitempty"`
	// Move is set on the delete of a queue renamed by a moved block: apply
	// moves its messages to Move.To before it deletes it.
	Move *QueueMove `json:"move,omitempty"`
	// OldKey is set on the create or delete of a binding that routes the
	// old name of a queue renamed by a moved block to it (see
	// topology.OldKeyBindings): programs generated before the rename
	// publish with that key.
	OldKey bool `json:"old_key,omitempty"`
}

// Object is one broker object; exactly the field of its change's Kind is
// set.
type Object struct {
	Exchange *Exchange `json:"exchange,omitempty"`
	Queue    *Queue    `json:"queue,omitempty"`
	Binding  *Binding  `json:"binding,omitempty"`
	Policy   *Policy   `json:"policy,omitempty"`
}

// Options carries what New and NewDestroy record in a plan.
type Options struct {
	// DgeVersion is the version of the dge that makes the plan.
	DgeVersion string
}

// Address returns the exchange's plan address: exchange.<name>.
func (e Exchange) Address() string { return "exchange." + e.Name }

// Address returns the queue's plan address: queue.<name>.
func (q Queue) Address() string { return "queue." + q.Name }

// Address returns the policy's plan address: policy.<name>.
func (p Policy) Address() string { return "policy." + p.Name }

// Address returns the binding's plan address:
// binding.<source>-><queue>[<routing key>], with "exchange:" before an
// exchange destination and the arguments as JSON after the key when it has
// any.
func (b Binding) Address() string {
	dest := b.Destination
	if b.DestinationType == "exchange" {
		dest = "exchange:" + dest
	}
	s := "binding." + b.Source + "->" + dest + "[" + b.RoutingKey + "]"
	if len(b.Arguments) > 0 {
		s += canonicalJSON(b.Arguments)
	}
	return s
}

// key identifies a binding by all its fields.
func (b Binding) key() string {
	return b.Source + "\x00" + b.DestinationType + "\x00" + b.Destination + "\x00" + b.RoutingKey + "\x00" + canonicalJSON(b.Arguments)
}

// Counts returns how many objects the plan adds, changes in place and
// destroys; a replace counts as one add and one destroy, as in Terraform.
func (p *Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Replace:
			add++
			destroy++
		case Delete:
			destroy++
		}
	}
	return add, change, destroy
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Changes) > 0 }
