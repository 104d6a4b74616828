package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/plan"
)

// refusingBroker is an apply.Broker written outside package apply, as any
// other module's would be: every request succeeds and every queue is empty,
// except the if-empty delete of queue refuse, which fails with refusal.
type refusingBroker struct {
	refuse  string
	refusal error
	mu      sync.Mutex
	deletes []string // "name ifEmpty" of every DeleteQueue
}

var _ apply.Broker = (*refusingBroker)(nil)

func (b *refusingBroker) DeclareExchange(context.Context, string, plan.Exchange) error { return nil }
func (b *refusingBroker) DeleteExchange(context.Context, string, string) error         { return nil }
func (b *refusingBroker) DeclareQueue(context.Context, string, plan.Queue) error       { return nil }
func (b *refusingBroker) DeclareBinding(context.Context, string, plan.Binding) error   { return nil }
func (b *refusingBroker) DeleteBinding(context.Context, string, plan.Binding) error    { return nil }
func (b *refusingBroker) PutPolicy(context.Context, string, plan.Policy) error         { return nil }
func (b *refusingBroker) DeletePolicy(context.Context, string, string) error           { return nil }

func (b *refusingBroker) QueueCounts(context.Context, string, string) (apply.QueueCounts, bool, error) {
	return apply.QueueCounts{}, true, nil
}

func (b *refusingBroker) DeleteQueue(_ context.Context, _, name string, ifEmpty bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ifEmpty {
		b.deletes = append(b.deletes, name+" if-empty")
	} else {
		b.deletes = append(b.deletes, name)
	}
	if name == b.refuse && ifEmpty {
		return b.refusal
	}
	return nil
}

// TestBrokerContract: apply drives any Broker through apply's own types
// and errors. A classic queue's if-empty delete refused with a
// *apply.BrokerError of Kind apply.ErrNotEmpty (messages arrived after the
// preflight count) stops apply with an *apply.UnsafeError carrying the
// broker's words, and the queue is never deleted without the flag; any
// other error from the same delete stops apply as it is.
func TestBrokerContract(t *testing.T) {
	s := spec{vhost: "v", queueType: "classic", retry: "5s"}
	top := plan.Desired(s.graph(t))
	snap := &plan.Snapshot{Objects: top}
	snap.Owner = plan.Owner{}
	snap.Normalize()
	other := errors.New("delete queue out: the broker is on fire")
	for _, tc := range []struct {
		name    string
		refusal error
		unsafe  bool
		want    string
	}{
		{
			name:    "not empty",
			refusal: &apply.BrokerError{Kind: apply.ErrNotEmpty, Reason: "queue 'out' in vhost 'v' not empty", Err: errors.New("delete queue out in vhost \"v\": 400")},
			unsafe:  true,
			want:    "delete queue out: it holds 0 messages and has 0 consumers\ndrain the queues and stop their consumers, or pass -allow-message-loss to accept losing the messages (the broker said: queue 'out' in vhost 'v' not empty)",
		},
		{name: "other error", refusal: other, want: other.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.NewDestroy(top, snap, plan.Options{DgeVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			b := &refusingBroker{refuse: "out", refusal: tc.refusal}
			_, err = apply.Apply(t.Context(), b, p, apply.Options{})
			var unsafe *apply.UnsafeError
			if errors.As(err, &unsafe) != tc.unsafe {
				t.Fatalf("Apply: %v; want an *apply.UnsafeError: %v", err, tc.unsafe)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Apply: %v; want it to contain %q", err, tc.want)
			}
			if !tc.unsafe && !errors.Is(err, other) {
				t.Errorf("Apply: %v; want the Broker's own error", err)
			}
			for _, d := range b.deletes {
				if d == "out" {
					t.Errorf("queue out was deleted without if-empty after its refusal (deletes: %v)", b.deletes)
				}
			}
		})
	}
}

// limitBroker refuses the declaration of queue refuse once every other
// queue declaration is in flight; those wait for their context, as
// requests cut short by apply's cancellation do.
type limitBroker struct {
	refusingBroker
	waiting sync.WaitGroup
}

func (b *limitBroker) DeclareQueue(ctx context.Context, _ string, q plan.Queue) error {
	if q.Name == b.refuse {
		b.waiting.Wait()
		return b.refusal
	}
	b.waiting.Done()
	<-ctx.Done()
	return fmt.Errorf("declare queue %s: %w", q.Name, ctx.Err())
}

// TestFirstCauseOnce: when one request of a phase fails, the requests
// cancelled because of it are counted as such; the cause is the only
// error reported in full.
func TestFirstCauseOnce(t *testing.T) {
	s := spec{vhost: "v", queueType: "classic", retry: "5s"}
	top := plan.Desired(s.graph(t))
	p, err := plan.New(top, &plan.Snapshot{}, plan.Options{DgeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	queues := 0
	for _, c := range p.Changes {
		if c.Kind == plan.KindQueue {
			queues++
		}
	}
	cause := errors.New("declare queue out: queue limit reached")
	b := &limitBroker{refusingBroker: refusingBroker{refuse: "out", refusal: cause}}
	b.waiting.Add(queues - 1)
	_, err = apply.Apply(t.Context(), b, p, apply.Options{Parallelism: queues})
	want := fmt.Sprintf("%v\n%d other changes in flight were cancelled because of this error", cause, queues-1)
	if err == nil || err.Error() != want {
		t.Errorf("Apply error:\n%v\nwant:\n%s", err, want)
	}
}
