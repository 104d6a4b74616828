package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// A plan saved with -out, read back by Decode and applied only while it is
// fresh: its format, its dge version and the live objects it was made
// against (Fingerprint) unchanged.

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

// Fingerprint hashes the live objects a plan for want touches or depends
// on: every live object at a desired name, and every live object the owner
// of want owns (with its bindings). Message and consumer counts and the
// policy a queue shows are left out: they move all the time.
func Fingerprint(want Objects, snap *Snapshot) string {
	o := newOwner(want.Owner)
	w := o.classify(snap)
	ownedPol := map[string]bool{}
	for _, p := range snap.Policies {
		if OwnsPolicy(o.Graph, p.Name) {
			ownedPol[p.Name] = true
		}
	}
	lines := objectLines(KindExchange, want.Exchanges, snap.Exchanges, func(e Exchange) string { return e.Name }, w.exchanges)
	lines = append(lines, objectLines(KindQueue, want.Queues, snap.Queues, func(q Queue) string { return q.Name }, w.queues)...)
	lines = append(lines, objectLines(KindPolicy, want.Policies, snap.Policies, func(p Policy) string { return p.Name }, ownedPol)...)

	// Bindings: every live binding whose source is a desired or owned
	// exchange (that covers the desired bindings and the owned ones).
	relevant := map[string]bool{}
	for _, e := range want.Exchanges {
		relevant[e.Name] = true
	}
	for n := range w.exchanges {
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

// objectLines returns, unsorted, a fingerprint line for every desired or
// owned name of one kind: the live object of that name, or "absent".
func objectLines[T object](kind Kind, want, live []T, name func(T) string, owned map[string]bool) []string {
	byName := map[string]T{}
	for _, cur := range live {
		byName[name(cur)] = cur
	}
	seen := map[string]bool{}
	for _, x := range want {
		seen[name(x)] = true
	}
	for n := range owned {
		seen[n] = true
	}
	var lines []string
	for n := range seen {
		cur, ok := byName[n]
		if !ok {
			lines = append(lines, string(kind)+" "+n+" absent")
			continue
		}
		lines = append(lines, string(kind)+" "+n+" "+canonicalJSON(cur))
	}
	return lines
}
