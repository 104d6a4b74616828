package runtime

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The prefetch window of a process, fan_out or poll node is W, the number
// of unacknowledged deliveries it may hold. A delivery stays in the window
// while it waits for a worker, while the handler runs (h), while its outputs
// wait for their confirms (c) and until its ack reaches the broker. A window
// too small caps the node at W deliveries per confirm round trip; a window
// too large lets one instance hoard messages that instances joining later
// could handle. Unless fixed (-prefetch, or prefetch in the HCL), the window
// adapts to what the session measures:
//
//	W = concurrency + ⌈concurrency × (2c + windowSlack) / h⌉
//
// where h is the handler's time per call and c the time its outputs wait
// for their confirms, clamped to [concurrency+1, maxWindow]: enough to keep
// every worker busy while earlier deliveries wait for their confirms and
// their acks travel to the queue (on a quorum queue an ack, like a publish,
// is a write to the queue's log before the broker delivers again, so it is
// counted as a second c), plus what the workers get through in windowSlack,
// so that what one instance holds beyond its work in progress takes it
// about windowSlack to handle. A fast handler gets a large
// window (the confirm round trip dominates), a slow one a small window. A
// fan_out has no handler: it takes maxWindow.
//
// A node's consumer prefetch cannot change in place: basic.qos applies to
// consumers started after it, and quorum queues do not support a
// channel-wide (global) prefetch. A new window is applied by starting a new
// consumer on the same channel with the new prefetch, then cancelling the
// old one. Deliveries the old consumer already received stay on the channel
// and are handled and acknowledged as usual: delivery tags are numbered per
// channel, so the acker's in-order multiple acks cover both consumers. No
// delivery is requeued to shrink the window (a quorum queue would count it
// in x-delivery-count).
const (
	// startWindow is the window an adaptive node starts with, before it
	// has measured anything.
	startWindow = 32
	// maxWindow bounds an adaptive window: far below a quorum queue's
	// consumer prefetch cap of 2,000, and enough to keep several hundred
	// confirms in flight.
	maxWindow = 512
	// windowSlack is the handler time an adaptive window may hold beyond
	// its work in progress and the deliveries awaiting their confirms: it
	// absorbs jitter in the broker's round trips (with a 20 ms handler, a
	// window of 3 measured 1.16× the ideal time on a busy broker, 6 1.07×)
	// and bounds what a joining instance can find hoarded.
	windowSlack = 100 * time.Millisecond
	// windowInterval is how often an adaptive window is re-evaluated.
	windowInterval = 100 * time.Millisecond
	// firstWindowInterval is how often it is evaluated until the first
	// handler call is measured: a fast node leaves startWindow within
	// milliseconds of its first delivery (at the broker's pace, startWindow
	// caps it at about half its rate), a slow one as soon as its first
	// call returns.
	firstWindowInterval = 10 * time.Millisecond
	// windowAlpha is the weight of one interval's mean in the moving
	// averages of h and c.
	windowAlpha = 0.5
)

// window is a session's consumer of its node's queue, with its prefetch
// window: the stream the workers read (Next) across the consumers the
// session starts as it changes the window, oldest first.
type window struct {
	ch          Channel
	queue       string
	concurrency int
	adaptive    bool
	m           *nodeMetrics
	log         logger

	mu   sync.Mutex
	cons []Consumer // cancelled ones still passing on deliveries, then the current one

	ctl     sync.Mutex // serialises resize and cancel
	size    int        // the current consumer's prefetch
	stopped bool

	// Per-interval sums and counts of handler times and confirm waits
	// (from the handler's end to the ack decision), read and reset by adapt.
	handleNs, handleN   atomic.Int64
	confirmNs, confirmN atomic.Int64
	h, c                float64 // moving averages, in ns (0: not measured yet)
}

// logger is what window logs through (a *slog.Logger).
type logger interface {
	Debug(msg string, args ...any)
	Warn(msg string, args ...any)
}

// openWindow starts the session's first consumer of queue: with prefetch
// size, fixed unless adaptive.
func openWindow(ctx context.Context, ch Channel, queue string, size, concurrency int, adaptive bool, m *nodeMetrics, log logger) (*window, error) {
	con, err := ch.Consume(ctx, queue, size)
	if err != nil {
		return nil, err
	}
	m.window.Store(int64(size))
	return &window{ch: ch, queue: queue, concurrency: concurrency, adaptive: adaptive, m: m, log: log,
		cons: []Consumer{con}, size: size}, nil
}

// Next returns the next delivery of the oldest consumer that still has
// any, moving on to the next consumer when one ends; false once the newest
// has ended (after cancel, when the channel is lost, or when the broker
// cancelled it).
func (w *window) Next() (Delivery, bool) {
	for {
		w.mu.Lock()
		con := w.cons[0]
		w.mu.Unlock()
		if d, ok := con.Next(); ok {
			return d, true
		}
		w.mu.Lock()
		switch {
		case w.cons[0] != con:
			// Another worker moved on already.
		case len(w.cons) > 1:
			w.cons[0] = nil
			w.cons = w.cons[1:]
		default:
			w.mu.Unlock()
			return Delivery{}, false
		}
		w.mu.Unlock()
	}
}

// cancel stops consuming: the current consumer is cancelled and no new one
// is started; the stream ends once what was received is taken.
func (w *window) cancel() error {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	w.stopped = true
	w.mu.Lock()
	cur := w.cons[len(w.cons)-1]
	w.mu.Unlock()
	return cur.Cancel()
}

// handled records the time of one handler call. Only the handler's time
// counts: a publish that waits for the broker (flow control) is the
// confirm round trip's business, and counting it would shrink the window
// just when the broker is slow, which would slow the node further.
func (w *window) handled(d time.Duration) {
	if w != nil && w.adaptive {
		w.handleNs.Add(int64(d))
		w.handleN.Add(1)
	}
}

// worked adds d to the time of the handler call handled last recorded:
// a split's publishing of its items, which is the node's work per delivery
// as much as its handler's. Without it a split's window would be sized by
// its handler alone (microseconds: the maximum window), and one instance
// would hoard hundreds of inputs, each worth a hundred publishes, which a
// crash then hands back all at once, each a delivery closer to the
// delivery-limit.
func (w *window) worked(d time.Duration) {
	if w != nil && w.adaptive {
		w.handleNs.Add(int64(d))
	}
}

// confirmed records how long a delivery's outputs took to be confirmed
// once its handler was done.
func (w *window) confirmed(d time.Duration) {
	if w.adaptive {
		w.confirmNs.Add(int64(d))
		w.confirmN.Add(1)
	}
}

// run adapts the window every windowInterval (every firstWindowInterval
// until a handler call is measured) until ctx ends or the channel is lost.
// A fixed window returns at once.
func (w *window) run(ctx context.Context) {
	if !w.adaptive {
		return
	}
	t := time.NewTimer(firstWindowInterval)
	defer t.Stop()
	for {
		if w.h != 0 {
			t.Reset(windowInterval)
		} else {
			t.Reset(firstWindowInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.ch.Done():
			return
		case <-t.C:
		}
		if n, ok := w.adapt(); ok {
			if err := w.resize(ctx, n); err != nil {
				select {
				case <-w.ch.Done():
					return // the session ends and says why
				default:
				}
				w.log.Warn("could not change the prefetch window; keeping it", "prefetch", w.size, "want", n, "error", err.Error())
				return
			}
		}
	}
}

// adapt folds the interval's measurements into the moving averages and
// returns the window they call for, and whether it differs enough from the
// current one to change it.
func (w *window) adapt() (int, bool) {
	if n := w.handleN.Swap(0); n > 0 {
		w.h = ewma(w.h, float64(w.handleNs.Swap(0))/float64(n))
	}
	if n := w.confirmN.Swap(0); n > 0 {
		w.c = ewma(w.c, float64(w.confirmNs.Swap(0))/float64(n))
	}
	if w.h == 0 {
		return 0, false // nothing handled yet
	}
	want := targetWindow(w.concurrency, time.Duration(w.h), time.Duration(w.c))
	return want, changeWindow(w.size, want)
}

func ewma(avg, x float64) float64 {
	if avg == 0 {
		return x
	}
	return avg + windowAlpha*(x-avg)
}

// targetWindow returns the window for concurrency workers whose handling
// takes h per delivery and whose outputs take c to be confirmed.
func targetWindow(concurrency int, h, c time.Duration) int {
	h = max(h, time.Microsecond)
	extra := math.Ceil(float64(concurrency) * float64(2*c+windowSlack) / float64(h))
	w := float64(concurrency) + extra
	return int(min(max(w, float64(concurrency+1)), maxWindow))
}

// changeWindow reports whether an adaptive window of size cur should
// become want: only for a change of at least a quarter (and at least 2), so
// that noise in the measurements does not re-subscribe over and over.
func changeWindow(cur, want int) bool {
	d := want - cur
	if d < 0 {
		d = -d
	}
	return d >= max(2, cur/4)
}

// resize applies window n: a new consumer with prefetch n, then the old one
// cancelled.
func (w *window) resize(ctx context.Context, n int) error {
	w.ctl.Lock()
	defer w.ctl.Unlock()
	if w.stopped {
		return nil
	}
	con, err := w.ch.Consume(ctx, w.queue, n)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := w.cons[len(w.cons)-1]
	w.cons = append(w.cons, con)
	w.mu.Unlock()
	if err := old.Cancel(); err != nil {
		// Workers read the old consumer until it ends: with it still
		// running, the new one's deliveries would wait unread. Closing
		// the channel ends the session; the next one starts afresh.
		_ = w.ch.Close()
		return fmt.Errorf("cancel the consumer of prefetch %d: %w", w.size, err)
	}
	w.log.Debug("prefetch window changed", "prefetch", n, "was", w.size,
		"handling", time.Duration(w.h).String(), "confirm_wait", time.Duration(w.c).String())
	w.size = n
	w.m.window.Store(int64(n))
	return nil
}
