package apply_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
)

// TestParkedRedriveInterruptedLosesNothing: a paced redrive cancelled
// midway, its connection then closed, leaves every message parked or in the
// work queue (possibly both, at most a confirm window of them), never in
// neither; a second redrive finishes the job.
func TestParkedRedriveInterruptedLosesNothing(t *testing.T) {
	f := newFixture(t)
	f.converge(t, spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"})
	const n = 500
	f.publishNumbered(t, "a_in.dead", n)
	m, err := apply.DialMover(f.vh.AMQPURL, t.Name()+" first")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	opts := apply.ParkedOptions{Op: apply.ParkedRedrive, Rate: 1000, Exchange: "", Key: "a_in"}
	moved, err := m.Parked(ctx, "a_in.dead", opts)
	m.Close()
	if !errors.Is(err, context.DeadlineExceeded) || moved == 0 || moved == n {
		t.Fatalf("interrupted redrive: moved %d of %d, %v; want some moved and the deadline", moved, n, err)
	}
	// A quorum queue takes back the unacknowledged messages of a closed
	// channel asynchronously: wait until they are all counted.
	var work, parked int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		work, _ = f.count(t, "a_in")
		parked, _ = f.count(t, "a_in.dead")
		if work+parked >= n || time.Now().After(deadline) {
			break
		}
	}
	if work+parked < n || work+parked > n+100 {
		t.Fatalf("after the interrupted redrive (%d moved): %d in a_in + %d parked, want %d and at most a window (100 at -rate 1000) more, copies confirmed and not yet acknowledged", moved, work, parked, n)
	}
	t.Logf("interrupted after %d moved: %d in a_in, %d parked", moved, work, parked)
	m2 := f.mover(t)
	rest, err := m2.Parked(t.Context(), "a_in.dead", apply.ParkedOptions{Op: apply.ParkedRedrive, Key: "a_in"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range f.drainAll(t, "a_in") {
		seen[d.MessageId]++
		if d.Headers[apply.HeaderRedriven] != int64(1) {
			t.Errorf("%s: x-dge-redriven %v, want 1", d.MessageId, d.Headers[apply.HeaderRedriven])
		}
	}
	if left, _ := f.count(t, "a_in.dead"); left != 0 {
		t.Errorf("%d still parked after the second redrive (%d moved)", left, rest)
	}
	dups := 0
	for i := range n {
		c := seen[fmt.Sprintf("m-%d", i)]
		if c == 0 {
			t.Errorf("message m-%d was lost", i)
		}
		dups += max(c-1, 0)
	}
	t.Logf("second redrive moved %d; %d duplicates", rest, dups)
}

// TestParkedConcurrentRedriveRefused: while one redrive of a dead queue
// runs, a second (another connection, as another dge process) fails with
// ErrBusy and moves nothing; once the first is done, a redrive runs again.
func TestParkedConcurrentRedriveRefused(t *testing.T) {
	f := newFixture(t)
	f.converge(t, spec{vhost: f.vh.Name, queueType: "quorum", retry: "5s"})
	f.publishNumbered(t, "a_in.dead", 20)
	first, second := f.mover(t), f.mover(t)
	started := make(chan struct{})
	var visits atomic.Int64
	done := make(chan error, 1)
	go func() {
		_, err := first.Parked(t.Context(), "a_in.dead", apply.ParkedOptions{Op: apply.ParkedRedrive, Rate: 40, Key: "a_in",
			Visit: func(amqp.Delivery) error {
				if visits.Add(1) == 1 {
					close(started)
				}
				return nil
			}})
		done <- err
	}()
	<-started
	n, err := second.Parked(t.Context(), "a_in.dead", apply.ParkedOptions{Op: apply.ParkedPurge})
	if !errors.Is(err, apply.ErrBusy) || n != 0 {
		t.Fatalf("second redrive while the first runs: %d, %v; want 0 and ErrBusy", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first redrive: %v", err)
	}
	if got, _ := f.count(t, "a_in"); got != 20 {
		t.Fatalf("a_in holds %d after the first redrive, want 20", got)
	}
	f.publishNumbered(t, "a_in.dead", 3)
	if n, err := second.Parked(t.Context(), "a_in.dead", apply.ParkedOptions{Op: apply.ParkedPurge}); err != nil || n != 3 {
		t.Fatalf("purge after the first redrive ended: %d, %v; want 3", n, err)
	}
}

// TestParkedSlowRateReadsOn: a pacing wait longer than the idle time that
// ends a read (2 s) does not end the redrive early.
func TestParkedSlowRateReadsOn(t *testing.T) {
	f := newFixture(t)
	f.converge(t, spec{vhost: f.vh.Name, queueType: "classic", retry: "5s"})
	f.publishNumbered(t, "a_in.dead", 2)
	start := time.Now()
	n, err := f.mover(t).Parked(t.Context(), "a_in.dead", apply.ParkedOptions{Op: apply.ParkedRedrive, Rate: 0.4, Key: "a_in"})
	if err != nil || n != 2 {
		t.Fatalf("redrive at 0.4 msgs/s: %d, %v; want both moved", n, err)
	}
	if took := time.Since(start); took < 2500*time.Millisecond {
		t.Errorf("2 messages at 0.4 msgs/s took %s, want at least 2.5s", took)
	}
}
