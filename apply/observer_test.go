package apply_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/plan"
)

// finishedFunc is an Observer that hears only of finished changes.
type finishedFunc func(c plan.Change, skipped bool, err error)

func (finishedFunc) Started(plan.Change) {}
func (f finishedFunc) Finished(c plan.Change, skipped bool, err error) {
	f(c, skipped, err)
}

// recorder is an Observer that writes down every event.
type recorder struct {
	events   []string
	inFlight map[string]bool
	maxIn    int
}

func (r *recorder) Started(c plan.Change) {
	r.events = append(r.events, "start "+c.Address)
	r.inFlight[c.Address] = true
	r.maxIn = max(r.maxIn, len(r.inFlight))
}

func (r *recorder) Finished(c plan.Change, skipped bool, err error) {
	if !r.inFlight[c.Address] {
		r.events = append(r.events, "finished before start "+c.Address)
	}
	delete(r.inFlight, c.Address)
	r.events = append(r.events, fmt.Sprintf("finish %s skipped=%v err=%v", c.Address, skipped, err != nil))
}

// TestObserverHearsEveryChange checks that the Observer hears each change
// start and then finish, once, in the plan's order when the parallelism is
// 1, with the bindings the broker drops with their queues finishing as
// skipped, and at most Parallelism changes in flight otherwise.
func TestObserverHearsEveryChange(t *testing.T) {
	f := newFixture(t)
	s := spec{vhost: f.vh.Name, queueType: "classic", retry: "5s"}
	p := f.mustPlan(t, s)
	r := &recorder{inFlight: map[string]bool{}}
	if _, err := apply.Apply(t.Context(), f.broker, p, apply.Options{Parallelism: 1, Observer: r, Counter: f.counter}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range p.Changes {
		want = append(want, "start "+c.Address, fmt.Sprintf("finish %s skipped=false err=false", c.Address))
	}
	if !slices.Equal(r.events, want) {
		t.Fatalf("events:\n%q\nwant:\n%q", r.events, want)
	}

	snap, err := f.client.Read(t.Context(), f.vh.Name)
	if err != nil {
		t.Fatal(err)
	}
	d, err := plan.NewDestroy(plan.Desired(s.graph(t)), snap, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r = &recorder{inFlight: map[string]bool{}}
	if _, err := apply.Apply(t.Context(), f.broker, d, apply.Options{Parallelism: 2, Observer: r, Counter: f.counter}); err != nil {
		t.Fatal(err)
	}
	if r.maxIn > 2 || len(r.inFlight) != 0 || len(r.events) != 2*len(d.Changes) {
		t.Fatalf("destroy with parallelism 2: %d in flight at most, %d left in flight, %d events for %d changes:\n%q", r.maxIn, len(r.inFlight), len(r.events), len(d.Changes), r.events)
	}
	skipped := 0
	for _, e := range r.events {
		if strings.Contains(e, "skipped=true") {
			skipped++
		}
	}
	if skipped == 0 {
		t.Errorf("destroy: no binding finished as skipped (dropped by the broker with its queue):\n%q", r.events)
	}
}
