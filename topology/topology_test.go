package topology

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBuild(t *testing.T) {
	g := Params{
		Name: "g", WorkExchange: "g.work", RetryExchange: "g.retry", PollExchange: "g.poll",
		Edges: []EdgeParams{
			{Queue: "a", Retry: 1500 * time.Microsecond, MaxAttempts: 3, Aggregate: true},
			{Queue: "p", Retry: time.Second, MaxAttempts: 7, Poll: true, Interval: 0},
		},
		Moved: []Move{{From: "old_a", To: "a"}, {From: "gone", To: "nowhere"}},
	}
	got := Build(g)
	want := Topology{
		QueueType: Quorum,
		Work:      "g.work",
		Exchanges: []string{"g.work", "g.retry", "g.poll"},
		Queues: []Queue{
			{Name: "a", Role: RoleWork, Edge: "a", DeadLetterExchange: "g.retry", SingleActive: true, DeliveryLimit: 7},
			{Name: "a.retry", Role: RoleRetry, Edge: "a", DeadLetterExchange: "g.work", TTL: time.Millisecond},
			{Name: "a.dead", Role: RoleDead, Edge: "a"},
			{Name: "p", Role: RoleWork, Edge: "p", DeadLetterExchange: "g.retry", DeliveryLimit: 7},
			{Name: "p.retry", Role: RoleRetry, Edge: "p", DeadLetterExchange: "g.work", TTL: time.Second},
			{Name: "p.dead", Role: RoleDead, Edge: "p"},
			{Name: "p.poll", Role: RolePoll, Edge: "p", DeadLetterExchange: "g.work", TTL: time.Millisecond},
		},
		Bindings: []Binding{
			{"g.work", "a", "a"}, {"g.retry", "a.retry", "a"}, {"g.work", "a.dead", "a.dead"},
			{"g.work", "p", "p"}, {"g.retry", "p.retry", "p"}, {"g.work", "p.dead", "p.dead"}, {"g.poll", "p.poll", "p"},
			{"g.work", "a", "old_a"}, {"g.retry", "a.retry", "old_a"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}

	for _, b := range got.Bindings {
		if want := b.Key == "old_a"; OldKey(b) != want {
			t.Errorf("OldKey(%v) = %v, want %v", b, !want, want)
		}
	}

	g.QueueType, g.Edges = Classic, g.Edges[:1]
	c := Build(g)
	if len(c.Exchanges) != 2 || c.Queues[0].DeliveryLimit != 0 || c.Quorum() {
		t.Errorf("classic graph without poll: exchanges %v, delivery limit %d, quorum %v; want 2 exchanges, no limit, classic",
			c.Exchanges, c.Queues[0].DeliveryLimit, c.Quorum())
	}
	if args := Arguments(c.Queues[0], false); len(args) != 2 || args["x-dead-letter-exchange"] != "g.retry" || args["x-single-active-consumer"] != true {
		t.Errorf("classic aggregate work queue arguments %v", args)
	}
	if args := Arguments(got.Queues[1], true); args["x-dead-letter-strategy"] != "at-least-once" || args["x-overflow"] != "reject-publish" {
		t.Errorf("quorum retry queue arguments %v", args)
	}
	if args := Arguments(got.Queues[2], true); len(args) != 0 {
		t.Errorf("parking queue arguments %v, want none", args)
	}
}
