package supervise

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/dgehq/dge/internal/scale"
)

// node is one node's replicas and scaler.
type node struct {
	s      *Supervisor
	spec   Node
	scaler *scale.Scaler

	mu       sync.Mutex
	want     int        // the replicas the scaler set
	active   []*replica // running or restarting, by number
	stopping []*replica // asked to stop by a scale-down, still running
	ready    int64
	countErr string      // the last count error reported, until a count succeeds
	restarts []time.Time // restarts within the crash-loop window
	looping  bool
}

// tick counts the node's queue and scales the node by its rule, then
// stops one surplus replica if none is stopping yet.
func (n *node) tick(ctx context.Context) {
	if c := n.s.opts.Counter; c != nil {
		ready, _, found, err := c.Count(ctx, n.spec.Queue)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			n.countFailed(err.Error())
		case !found:
			n.countFailed("queue " + n.spec.Queue + " does not exist: run dge apply")
		default:
			n.mu.Lock()
			n.countErr, n.ready = "", ready
			current := n.want
			n.mu.Unlock()
			if next := n.scaler.Next(time.Now(), ready, current); next != current {
				n.scaleTo(next, ready, true)
			}
		}
	}
	n.stopSurplus()
}

func (n *node) countFailed(msg string) {
	n.mu.Lock()
	repeat := n.countErr == msg
	n.countErr = msg
	n.mu.Unlock()
	if !repeat {
		n.s.emit(Event{Type: CountFailed, Node: n.spec.Address, Error: msg})
	}
}

// scaleTo sets the replicas the node should have: new replicas start at
// once; surplus ones are stopped by stopSurplus, one at a time.
func (n *node) scaleTo(want int, ready int64, event bool) {
	n.mu.Lock()
	from := n.want
	n.want = want
	var started []*replica
	for len(n.active) < want {
		r := &replica{n: n, num: n.freeNumber(), stopCh: make(chan struct{}), done: make(chan struct{})}
		n.active = append(n.active, r)
		started = append(started, r)
	}
	n.mu.Unlock()
	if event {
		n.s.emit(Event{Type: Scaled, Node: n.spec.Address, From: &from, To: &want, Ready: &ready})
	}
	for _, r := range started {
		go r.run()
	}
}

// freeNumber returns the lowest replica number no replica of the node
// uses. n.mu is held.
func (n *node) freeNumber() int {
	for i := 1; ; i++ {
		used := false
		for _, r := range append(slices.Clip(n.active), n.stopping...) {
			used = used || r.num == i
		}
		if !used {
			return i
		}
	}
}

// stopSurplus stops the highest-numbered active replica when the node has
// more than it wants and none is stopping: scale-down goes one replica at
// a time, each finishing its messages in flight.
func (n *node) stopSurplus() {
	n.mu.Lock()
	if len(n.active) <= n.want || len(n.stopping) > 0 {
		n.mu.Unlock()
		return
	}
	i := 0
	for j, r := range n.active {
		if r.num > n.active[i].num {
			i = j
		}
	}
	r := n.active[i]
	n.active = slices.Delete(n.active, i, i+1)
	n.stopping = append(n.stopping, r)
	n.mu.Unlock()
	go func() {
		r.stop()
		n.mu.Lock()
		n.stopping = slices.DeleteFunc(n.stopping, func(x *replica) bool { return x == r })
		n.mu.Unlock()
	}()
}

// all returns every replica of the node, active and stopping.
func (n *node) all() []*replica {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append(slices.Clone(n.active), n.stopping...)
}

// restarted records a restart and reports whether it makes a crash loop
// begin, with the restarts in the window.
func (n *node) restarted(now time.Time) (begins bool, count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cut := now.Add(-n.s.opts.CrashLoopWindow)
	n.restarts = slices.DeleteFunc(append(n.restarts, now), func(t time.Time) bool { return t.Before(cut) })
	count = len(n.restarts)
	if count > n.s.opts.CrashLoopRestarts && !n.looping {
		n.looping = true
		return true, count
	}
	return false, count
}

// settled records that a replica ran long enough to count as healthy: the
// crash loop, if any, is over once the window holds few restarts.
func (n *node) settled(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cut := now.Add(-n.s.opts.CrashLoopWindow)
	n.restarts = slices.DeleteFunc(n.restarts, func(t time.Time) bool { return t.Before(cut) })
	if len(n.restarts) <= n.s.opts.CrashLoopRestarts {
		n.looping = false
	}
}

func (n *node) status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Status{Node: n.spec.Address, Want: n.want, Stopping: len(n.stopping), Ready: n.ready, CrashLoop: n.looping}
	for _, r := range n.active {
		if r.running() {
			st.Running++
		}
	}
	return st
}
