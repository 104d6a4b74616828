package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
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
	// Desired is the topology the plan was made for (empty for a destroy
	// plan but for its Owner and Vhost).
	Desired Topology `json:"desired"`
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

func (b Binding) key() string {
	return b.Source + "\x00" + b.DestinationType + "\x00" + b.Destination + "\x00" + b.RoutingKey + "\x00" + canonicalJSON(b.Arguments)
}

// Conflict is a desired object whose name a foreign object holds.
type Conflict struct {
	Kind   Kind
	Name   string
	Reason string // "is not stamped with x-dge-graph", "belongs to graph \"other\"", ...
	Fix    string
}

// ConflictError is returned by New when objects the graph needs, or names
// it adopts, are held by objects it does not own. It lists every one.
type ConflictError struct {
	Graph     string
	Vhost     string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "graph %q cannot manage %d object(s) in vhost %q:", e.Graph, len(e.Conflicts), e.Vhost)
	for _, c := range e.Conflicts {
		fmt.Fprintf(&sb, "\n  %s %q %s; %s", c.Kind, c.Name, c.Reason, c.Fix)
	}
	return sb.String()
}

// owner classifies live queues and exchanges.
type owner struct {
	Owner
	adopt map[string]bool
}

func newOwner(o Owner) owner {
	a := map[string]bool{}
	for _, n := range o.Adopt {
		a[n] = true
	}
	return owner{Owner: o, adopt: a}
}

// owns reports whether an object with these arguments belongs to the graph,
// and if not, why.
func (o owner) owns(name string, args map[string]any) (bool, string) {
	v, stamped := args[GraphArg]
	if !stamped {
		if o.adopt[name] {
			return true, ""
		}
		return false, "exists and is not stamped with " + GraphArg
	}
	if s, ok := v.(string); ok && s == o.Graph {
		return true, ""
	}
	return false, fmt.Sprintf("belongs to graph %s (stamped %s)", formatValue(v), GraphArg)
}

// live indexes a snapshot by name and classifies ownership.
type live struct {
	snap       *Snapshot
	exchanges  map[string]Exchange
	queues     map[string]Queue
	policies   map[string]Policy
	ownedExch  map[string]bool
	ownedQueue map[string]bool
}

func index(s *Snapshot, o owner) *live {
	l := &live{
		snap:       s,
		exchanges:  map[string]Exchange{},
		queues:     map[string]Queue{},
		policies:   map[string]Policy{},
		ownedExch:  map[string]bool{},
		ownedQueue: map[string]bool{},
	}
	for _, e := range s.Exchanges {
		l.exchanges[e.Name] = e
		if ok, _ := o.owns(e.Name, e.Arguments); ok {
			l.ownedExch[e.Name] = true
		}
	}
	for _, q := range s.Queues {
		l.queues[q.Name] = q
		if ok, _ := o.owns(q.Name, q.Arguments); ok {
			l.ownedQueue[q.Name] = true
		}
	}
	for _, p := range s.Policies {
		l.policies[p.Name] = p
	}
	return l
}

func (l *live) ownsBinding(b Binding) bool {
	if !l.ownedExch[b.Source] {
		return false
	}
	if b.DestinationType == "exchange" {
		return l.ownedExch[b.Destination]
	}
	return l.ownedQueue[b.Destination]
}

// New diffs the desired topology against the live snapshot. It fails with
// a *ConflictError when a desired queue or exchange is held by a foreign
// object, or when an adopt name is stamped by another graph or is not an
// object the graph declares.
func New(want Topology, snap *Snapshot, opts Options) (*Plan, error) {
	o := newOwner(want.Owner)
	if err := conflicts(want, snap, o); err != nil {
		return nil, err
	}
	p := diff(want, snap, o, opts, false)
	p.Diagnostics = CheckPolicies(want, snap)
	return p, nil
}

// NewDestroy plans the removal of every object in the snapshot that the
// owner of want owns (stamped by its graph or adopted, and its dge.<graph>.
// policies). Only want's Owner and Vhost are used.
func NewDestroy(want Topology, snap *Snapshot, opts Options) (*Plan, error) {
	empty := Topology{Owner: want.Owner, Vhost: want.Vhost}
	o := newOwner(want.Owner)
	var errs []Conflict
	for _, n := range want.Owner.Adopt {
		errs = append(errs, adoptConflicts(n, snap, o)...)
	}
	if len(errs) > 0 {
		return nil, &ConflictError{Graph: want.Owner.Graph, Vhost: want.Vhost, Conflicts: errs}
	}
	return diff(empty, snap, o, opts, true), nil
}

func adoptConflicts(name string, snap *Snapshot, o owner) []Conflict {
	var out []Conflict
	check := func(kind Kind, args map[string]any) {
		if v, ok := args[GraphArg]; ok && v != o.Graph {
			out = append(out, Conflict{Kind: kind, Name: name,
				Reason: fmt.Sprintf("is named in adopt but belongs to graph %s", formatValue(v)),
				Fix:    "objects stamped by another graph can never be adopted: remove it from the broker block's adopt list and rename the queue in the graph"})
		}
	}
	for _, e := range snap.Exchanges {
		if e.Name == name {
			check(KindExchange, e.Arguments)
		}
	}
	for _, q := range snap.Queues {
		if q.Name == name {
			check(KindQueue, q.Arguments)
		}
	}
	return out
}

func conflicts(want Topology, snap *Snapshot, o owner) error {
	var cs []Conflict
	declared := map[string]bool{}
	for _, e := range want.Exchanges {
		declared[e.Name] = true
	}
	for _, q := range want.Queues {
		declared[q.Name] = true
	}
	for _, n := range want.Owner.Adopt {
		if !declared[n] {
			cs = append(cs, Conflict{Kind: "adopt", Name: n,
				Reason: "is named in adopt but the graph declares no queue or exchange of that name",
				Fix:    "remove it from the broker block's adopt list (dge only adopts objects the graph needs)"})
		}
		cs = append(cs, adoptConflicts(n, snap, o)...)
	}
	fix := func(kind Kind, name string) string {
		what := "rename the queue in the graph"
		if kind == KindExchange {
			what = "rename the exchange in the broker block"
		}
		return fmt.Sprintf("to resolve: %s, delete the foreign %s, or adopt it with adopt = [%q] in the broker block", what, kind, name)
	}
	liveExch := map[string]Exchange{}
	for _, e := range snap.Exchanges {
		liveExch[e.Name] = e
	}
	liveQueue := map[string]Queue{}
	for _, q := range snap.Queues {
		liveQueue[q.Name] = q
	}
	foreign := func(kind Kind, name string, args map[string]any) {
		ok, why := o.owns(name, args)
		if ok {
			return
		}
		if _, stamped := args[GraphArg]; stamped {
			other := "rename the queue in the graph"
			if kind == KindExchange {
				other = "rename the exchange in the broker block"
			}
			cs = append(cs, Conflict{Kind: kind, Name: name, Reason: why,
				Fix: "to resolve: " + other + ", or remove it from the other graph (objects stamped by another graph can never be adopted)"})
			return
		}
		cs = append(cs, Conflict{Kind: kind, Name: name, Reason: why, Fix: fix(kind, name)})
	}
	for _, e := range want.Exchanges {
		if l, ok := liveExch[e.Name]; ok {
			foreign(KindExchange, l.Name, l.Arguments)
		}
	}
	for _, q := range want.Queues {
		if l, ok := liveQueue[q.Name]; ok {
			foreign(KindQueue, l.Name, l.Arguments)
		}
	}
	if len(cs) == 0 {
		return nil
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Kind != cs[j].Kind {
			return cs[i].Kind < cs[j].Kind
		}
		return cs[i].Name < cs[j].Name
	})
	return &ConflictError{Graph: want.Owner.Graph, Vhost: want.Vhost, Conflicts: cs}
}

func diff(want Topology, snap *Snapshot, o owner, opts Options, destroy bool) *Plan {
	l := index(snap, o)
	p := &Plan{
		FormatVersion: FormatVersion,
		DgeVersion:    opts.DgeVersion,
		Graph:         want.Owner.Graph,
		Vhost:         want.Vhost,
		Destroy:       destroy,
		Desired:       want,
	}
	add := func(c Change) { p.Changes = append(p.Changes, c) }

	// Exchanges.
	rebuiltExch := map[string]bool{} // replaced or created: their bindings are new
	wantExch := map[string]bool{}
	for _, e := range want.Exchanges {
		wantExch[e.Name] = true
		cur, ok := l.exchanges[e.Name]
		if !ok {
			add(Change{Action: Create, Kind: KindExchange, Address: e.Address(), After: &Object{Exchange: &e}})
			rebuiltExch[e.Name] = true
			continue
		}
		if forced := exchangeDiff(cur, e); len(forced) > 0 {
			add(Change{Action: Replace, Kind: KindExchange, Address: e.Address(),
				Before: &Object{Exchange: &cur}, After: &Object{Exchange: &e}, ForcedBy: forced})
			rebuiltExch[e.Name] = true
		}
	}
	for _, cur := range snap.Exchanges {
		if l.ownedExch[cur.Name] && !wantExch[cur.Name] {
			add(Change{Action: Delete, Kind: KindExchange, Address: cur.Address(), Before: &Object{Exchange: &cur}})
		}
	}

	// Queues.
	rebuiltQueue := map[string]bool{}
	wantQueue := map[string]bool{}
	for _, q := range want.Queues {
		wantQueue[q.Name] = true
		cur, ok := l.queues[q.Name]
		if !ok {
			add(Change{Action: Create, Kind: KindQueue, Address: q.Address(), After: &Object{Queue: &q}})
			rebuiltQueue[q.Name] = true
			continue
		}
		if forced := queueDiff(cur, q); len(forced) > 0 {
			st := snap.Stats[q.Name]
			add(Change{Action: Replace, Kind: KindQueue, Address: q.Address(),
				Before: &Object{Queue: &cur}, After: &Object{Queue: &q}, ForcedBy: forced,
				Messages: st.Messages, Consumers: st.Consumers})
			rebuiltQueue[q.Name] = true
		}
	}
	for _, cur := range snap.Queues {
		if of, ok := isTemporary(cur); ok && l.ownedQueue[cur.Name] && wantQueue[of] && !wantQueue[cur.Name] {
			p.PendingMoves = append(p.PendingMoves, PendingMove{Temporary: cur.Name, Queue: of, Messages: snap.Stats[cur.Name].Messages})
			continue
		}
		if l.ownedQueue[cur.Name] && !wantQueue[cur.Name] {
			st := snap.Stats[cur.Name]
			add(Change{Action: Delete, Kind: KindQueue, Address: cur.Address(), Before: &Object{Queue: &cur},
				Messages: st.Messages, Consumers: st.Consumers})
		}
	}

	// Bindings: a binding to or from a rebuilt object is gone with it.
	liveBinding := map[string]bool{}
	for _, b := range snap.Bindings {
		liveBinding[b.key()] = true
	}
	wantBinding := map[string]bool{}
	for _, b := range want.Bindings {
		wantBinding[b.key()] = true
		rebuilt := rebuiltExch[b.Source] || (b.DestinationType == "queue" && rebuiltQueue[b.Destination]) ||
			(b.DestinationType == "exchange" && rebuiltExch[b.Destination])
		if rebuilt || !liveBinding[b.key()] {
			add(Change{Action: Create, Kind: KindBinding, Address: b.Address(), After: &Object{Binding: &b}})
		}
	}
	for _, cur := range snap.Bindings {
		if l.ownsBinding(cur) && !wantBinding[cur.key()] {
			add(Change{Action: Delete, Kind: KindBinding, Address: cur.Address(), Before: &Object{Binding: &cur}})
		}
	}

	// Policies.
	wantPolicy := map[string]bool{}
	for _, pol := range want.Policies {
		wantPolicy[pol.Name] = true
		cur, ok := l.policies[pol.Name]
		if !ok {
			add(Change{Action: Create, Kind: KindPolicy, Address: pol.Address(), After: &Object{Policy: &pol}})
			continue
		}
		if !reflect.DeepEqual(cur, pol) {
			add(Change{Action: Update, Kind: KindPolicy, Address: pol.Address(),
				Before: &Object{Policy: &cur}, After: &Object{Policy: &pol}})
		}
	}
	for _, cur := range snap.Policies {
		if OwnsPolicy(o.Graph, cur.Name) && !wantPolicy[cur.Name] {
			add(Change{Action: Delete, Kind: KindPolicy, Address: cur.Address(), Before: &Object{Policy: &cur}})
		}
	}

	sortChanges(p.Changes)
	p.LiveFingerprint = Fingerprint(want, snap)
	return p
}

// sortChanges puts changes in execution order.
func sortChanges(cs []Change) {
	rank := func(c Change) int {
		if c.Action == Delete {
			return 10 - kindOrder[c.Kind]
		}
		return kindOrder[c.Kind]
	}
	sort.SliceStable(cs, func(i, j int) bool {
		ri, rj := rank(cs[i]), rank(cs[j])
		if ri != rj {
			return ri < rj
		}
		return cs[i].Address < cs[j].Address
	})
}

// withoutStamp returns args without the write-once ownership stamp, which
// never differs meaningfully: RabbitMQ ignores it on redeclaration.
func withoutStamp(args map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range args {
		if k != GraphArg {
			out[k] = v
		}
	}
	return out
}

func argsDiff(cur, want map[string]any) []string {
	c, w := withoutStamp(cur), withoutStamp(want)
	keys := map[string]bool{}
	for k := range c {
		keys[k] = true
	}
	for k := range w {
		keys[k] = true
	}
	var out []string
	for _, k := range sortedKeys(keys) {
		if !reflect.DeepEqual(c[k], w[k]) {
			out = append(out, "arguments."+k)
		}
	}
	return out
}

// exchangeDiff lists the attributes that differ; every one forces a
// replace (RabbitMQ cannot change an exchange in place).
func exchangeDiff(cur, want Exchange) []string {
	var out []string
	if cur.Type != want.Type {
		out = append(out, "type")
	}
	if cur.Durable != want.Durable {
		out = append(out, "durable")
	}
	if cur.AutoDelete != want.AutoDelete {
		out = append(out, "auto_delete")
	}
	if cur.Internal != want.Internal {
		out = append(out, "internal")
	}
	return append(out, argsDiff(cur.Arguments, want.Arguments)...)
}

// queueDiff lists the attributes that differ; every one forces a replace
// (queue type, durability and arguments are immutable).
func queueDiff(cur, want Queue) []string {
	var out []string
	if cur.Type != want.Type {
		out = append(out, "type")
	}
	if cur.Durable != want.Durable {
		out = append(out, "durable")
	}
	if cur.AutoDelete != want.AutoDelete {
		out = append(out, "auto_delete")
	}
	return append(out, argsDiff(cur.Arguments, want.Arguments)...)
}

// Fingerprint hashes the live objects a plan for want touches or depends
// on: every live object at a desired name, and every live object the owner
// of want owns (with its bindings). Message and consumer counts and the
// policy a queue shows are left out: they move all the time.
func Fingerprint(want Topology, snap *Snapshot) string {
	o := newOwner(want.Owner)
	l := index(snap, o)
	var lines []string
	names := func(kind Kind, wanted []string, liveObj map[string]any, owned map[string]bool) {
		seen := map[string]bool{}
		for _, n := range wanted {
			seen[n] = true
		}
		for n := range owned {
			seen[n] = true
		}
		for n := range seen {
			v, ok := liveObj[n]
			if !ok {
				lines = append(lines, string(kind)+" "+n+" absent")
				continue
			}
			lines = append(lines, string(kind)+" "+n+" "+canonicalJSON(v))
		}
	}
	exch := map[string]any{}
	for _, e := range snap.Exchanges {
		exch[e.Name] = e
	}
	var wantExch []string
	for _, e := range want.Exchanges {
		wantExch = append(wantExch, e.Name)
	}
	names(KindExchange, wantExch, exch, l.ownedExch)

	queues := map[string]any{}
	for _, q := range snap.Queues {
		queues[q.Name] = q
	}
	var wantQueues []string
	for _, q := range want.Queues {
		wantQueues = append(wantQueues, q.Name)
	}
	names(KindQueue, wantQueues, queues, l.ownedQueue)

	pols := map[string]any{}
	ownedPol := map[string]bool{}
	for _, p := range snap.Policies {
		pols[p.Name] = p
		if OwnsPolicy(o.Graph, p.Name) {
			ownedPol[p.Name] = true
		}
	}
	var wantPols []string
	for _, p := range want.Policies {
		wantPols = append(wantPols, p.Name)
	}
	names(KindPolicy, wantPols, pols, ownedPol)

	// Bindings: every live binding whose source is a desired or owned
	// exchange (that covers the desired bindings and the owned ones).
	relevant := map[string]bool{}
	for _, n := range wantExch {
		relevant[n] = true
	}
	for n := range l.ownedExch {
		relevant[n] = true
	}
	for _, b := range snap.Bindings {
		if relevant[b.Source] {
			lines = append(lines, "binding "+canonicalJSON(b))
		}
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, line := range lines {
		io.WriteString(h, line)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
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

// ErrStale is wrapped by the errors that refuse a saved plan: its format,
// its dge version or the live state has moved on.
var ErrStale = errors.New("saved plan is stale")

// Decode reads a plan saved with -out. It refuses a plan of another
// format_version or made by another dge version.
func Decode(r io.Reader, dgeVersion string) (*Plan, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read plan: %w (is it a file written by dge plan -out?)", err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: its format_version is %q, this dge reads %q; run dge plan again", ErrStale, p.FormatVersion, FormatVersion)
	}
	if p.DgeVersion != dgeVersion {
		return nil, fmt.Errorf("%w: it was made by dge %s, this is dge %s; run dge plan again", ErrStale, p.DgeVersion, dgeVersion)
	}
	// JSON gives numbers as float64 already; normalise maps for equality.
	for i := range p.Changes {
		normalizeObject(p.Changes[i].Before)
		normalizeObject(p.Changes[i].After)
	}
	return &p, nil
}

func normalizeObject(o *Object) {
	if o == nil {
		return
	}
	if o.Exchange != nil {
		o.Exchange.Arguments = NormalizeMap(o.Exchange.Arguments)
	}
	if o.Queue != nil {
		o.Queue.Arguments = NormalizeMap(o.Queue.Arguments)
	}
	if o.Binding != nil {
		o.Binding.Arguments = NormalizeMap(o.Binding.Arguments)
	}
	if o.Policy != nil {
		o.Policy.Definition = NormalizeMap(o.Policy.Definition)
	}
}

// CheckFresh compares the plan's fingerprint with one of the live state
// read now, and refuses a plan whose live state has moved on.
func (p *Plan) CheckFresh(snap *Snapshot) error {
	if got := Fingerprint(p.Desired, snap); got != p.LiveFingerprint {
		return fmt.Errorf("%w: the objects it changes in vhost %q have changed since it was made; run dge plan again", ErrStale, p.Vhost)
	}
	return nil
}
