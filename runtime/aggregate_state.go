package runtime

import (
	"slices"
	"sync"
	"time"
)

// recentRunsSize is how many runs an aggregate remembers in each of its
// sets: the joined ones, to tell a late duplicate part from the first part
// of a new group, and the failed ones, to park their later parts.
const recentRunsSize = 1 << 16

// recentRuns is a bounded set of run IDs, the oldest forgotten first, safe
// for concurrent use. An aggregate node keeps two (nodeRun.joined and
// nodeRun.failed): the acker adds a run to joined when its group's output
// is confirmed; the aggregate loop adds a run to failed when it claims the
// run's failure notice, and the acker removes it again when that park or
// notice is not confirmed. The aggregate loop reads both.
type recentRuns struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentRuns(n int) *recentRuns {
	return &recentRuns{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recentRuns) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[id]; ok {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id] = struct{}{}
}

// remove forgets id (its ring slot stays until reused).
func (r *recentRuns) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.set, id)
}

func (r *recentRuns) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

// aggPart is one held part of a group: delivered, not yet acknowledged.
type aggPart struct {
	d         Delivery
	from      int // index in the node's from list
	value     any
	attempt   int
	firstSeen time.Time // when the aggregate first saw this part (header), for the group timeout
	heldSince time.Time // when this copy arrived, for rotation
	// suspect is set when this part, or a copy of it, came back from a
	// consumer that died or lost its channel: its group may have been in the
	// handler then. crashes counts the handler calls of its group that may
	// have ended that way (HeaderCrashes).
	suspect bool
	crashes int
}

// aggGroup is the parts of one run seen so far.
type aggGroup struct {
	runID string
	parts []*aggPart // by from index; nil where missing
	have  int
	gone  bool // released, or every part rotated away
}

// aggState is an aggregate node's join on one channel. Only the session's
// aggregate loop touches it.
type aggState struct {
	groups  map[string]*aggGroup
	held    int // parts held in groups
	maxHold time.Duration
	// order holds the pending groups oldest first (and, lazily pruned,
	// some that are gone), so that a full window gives up its newest group.
	order []*aggGroup
}

// newGroup opens a group for a run.
func (a *aggState) newGroup(runID string, parts int) *aggGroup {
	g := &aggGroup{runID: runID, parts: make([]*aggPart, parts)}
	a.groups[runID] = g
	if len(a.order) > 2*len(a.groups)+64 {
		a.order = slices.DeleteFunc(a.order, func(g *aggGroup) bool { return g.gone })
	}
	a.order = append(a.order, g)
	return g
}

// forget removes a group from the pending ones.
func (a *aggState) forget(g *aggGroup) {
	g.gone = true
	if a.groups[g.runID] == g {
		delete(a.groups, g.runID)
	}
}

// newestGroup returns the pending group opened last, or nil.
func (a *aggState) newestGroup() *aggGroup {
	for len(a.order) > 0 {
		g := a.order[len(a.order)-1]
		if !g.gone {
			return g
		}
		a.order[len(a.order)-1] = nil
		a.order = a.order[:len(a.order)-1]
	}
	return nil
}

// newestPart returns the part of g that arrived last, or nil.
func (g *aggGroup) newestPart() *aggPart {
	var newest *aggPart
	for _, p := range g.parts {
		if p != nil && (newest == nil || !p.heldSince.Before(newest.heldSince)) {
			newest = p
		}
	}
	return newest
}
