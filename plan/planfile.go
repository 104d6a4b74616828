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
func Fingerprint(want Topology, snap *Snapshot) string {
	o := newOwner(want.Owner)
	w := o.classify(snap)
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
	names(KindExchange, wantExch, exch, w.exchanges)

	queues := map[string]any{}
	for _, q := range snap.Queues {
		queues[q.Name] = q
	}
	var wantQueues []string
	for _, q := range want.Queues {
		wantQueues = append(wantQueues, q.Name)
	}
	names(KindQueue, wantQueues, queues, w.queues)

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
