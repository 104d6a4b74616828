package mgmt_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/brokertest"
	"github.com/dgehq/dge/internal/mgmt"
	"github.com/dgehq/dge/plan"
)

// newApplyBroker returns an ApplyBroker for a fresh vhost and an AMQP
// channel on it.
func newApplyBroker(t *testing.T) (*mgmt.ApplyBroker, brokertest.Vhost, *amqp.Channel) {
	t.Helper()
	vh := brokertest.NewVhost(t)
	cfg, err := mgmt.Resolve([]string{mgmt.URLEnv + "=" + vh.ManagementURL}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mgmt.New(cfg, mgmt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := vh.Dial(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	return mgmt.NewApplyBroker(c), vh, ch
}

// exists reports whether queue exists (a passive declare on a channel of
// its own).
func exists(t *testing.T, vh brokertest.Vhost, queue string) bool {
	t.Helper()
	ch, err := vh.Dial(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	var aerr *amqp.Error
	if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	ch.Close()
	return true
}

// TestApplyBrokerDeleteQueue: on the real broker, the management API's
// refusal of an if-empty delete (a classic queue holding a message, or with
// a consumer) reaches apply as a *apply.BrokerError of Kind
// apply.ErrNotEmpty, with the broker's words and the *mgmt.Error's text,
// and the queue stays; an empty queue, or any queue without ifEmpty, is
// deleted.
func TestApplyBrokerDeleteQueue(t *testing.T) {
	b, vh, ch := newApplyBroker(t)
	for _, q := range []string{"full", "used", "empty", "forced"} {
		if err := b.DeclareQueue(t.Context(), vh.Name, plan.Queue{Name: q, Type: "classic", Durable: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"full", "forced"} {
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", q, true, false, amqp.Publishing{Body: []byte("m")})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish to %s: confirmed %v, %v", q, ok, err)
		}
	}
	if _, err := ch.Consume("used", "c", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		queue   string
		ifEmpty bool
		refused bool
		reason  string
	}{
		{queue: "full", ifEmpty: true, refused: true, reason: "not empty"},
		{queue: "used", ifEmpty: true, refused: true, reason: "in use"},
		{queue: "empty", ifEmpty: true},
		{queue: "forced", ifEmpty: false},
	} {
		t.Run(tc.queue, func(t *testing.T) {
			err := b.DeleteQueue(t.Context(), vh.Name, tc.queue, tc.ifEmpty)
			if !tc.refused {
				if err != nil {
					t.Fatalf("DeleteQueue: %v", err)
				}
				if exists(t, vh, tc.queue) {
					t.Errorf("queue %s still exists after DeleteQueue", tc.queue)
				}
				return
			}
			var be *apply.BrokerError
			var me *mgmt.Error
			if !errors.As(err, &be) || !errors.Is(err, apply.ErrNotEmpty) || !errors.As(err, &me) {
				t.Fatalf("DeleteQueue: %v (%T); want an *apply.BrokerError of Kind apply.ErrNotEmpty wrapping a *mgmt.Error", err, err)
			}
			if !strings.Contains(be.Reason, tc.reason) || be.Reason != me.Reason || err.Error() != me.Error() || me.Status != 400 {
				t.Errorf("Reason %q, error %q; want the broker's words (%q) and the management API's 400 error", be.Reason, err, tc.reason)
			}
			if !exists(t, vh, tc.queue) {
				t.Errorf("the refused delete removed queue %s", tc.queue)
			}
		})
	}

	// Any other failure is the Client's own error, not a refusal apply
	// acts upon.
	err := b.DeclareQueue(t.Context(), vh.Name, plan.Queue{Name: "full", Type: "quorum", Durable: true})
	var me *mgmt.Error
	if !errors.As(err, &me) || errors.Is(err, apply.ErrNotEmpty) {
		t.Errorf("re-declaring queue full as quorum: %v; want a *mgmt.Error that is not apply.ErrNotEmpty", err)
	}
}

// TestApplyBrokerQueueCounts: QueueCounts reports a missing queue as not
// found without error, and a queue's ready messages and consumers as the
// management API samples them (within its statistics interval).
func TestApplyBrokerQueueCounts(t *testing.T) {
	b, vh, ch := newApplyBroker(t)
	if c, found, err := b.QueueCounts(t.Context(), vh.Name, "missing"); err != nil || found || c != (apply.QueueCounts{}) {
		t.Errorf("QueueCounts(missing) = %+v, %v, %v; want zero counts, not found, no error", c, found, err)
	}
	if err := b.DeclareQueue(t.Context(), vh.Name, plan.Queue{Name: "q", Type: "quorum", Durable: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := ch.PublishWithContext(t.Context(), "", "q", true, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	want := apply.QueueCounts{Ready: 2}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, found, err := b.QueueCounts(t.Context(), vh.Name, "q")
		if err != nil || !found {
			t.Fatalf("QueueCounts(q) = %+v, %v, %v", c, found, err)
		}
		if c == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("QueueCounts(q) = %+v after 15 s; want %+v", c, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
