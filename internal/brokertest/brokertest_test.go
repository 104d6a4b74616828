package brokertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
)

func TestVhostRoundTrip(t *testing.T) {
	var vh brokertest.Vhost
	t.Run("publish-consume", func(t *testing.T) {
		vh = brokertest.NewVhost(t)
		if !strings.HasPrefix(vh.Name, "dge-test-testvhostroundtrip-publish-consume-") {
			t.Errorf("vhost name %q does not follow dge-test-<test name>-<random>", vh.Name)
		}
		exists, err := vh.Exists()
		if err != nil || !exists {
			t.Fatalf("vhost %s exists = %v, %v; want true, nil", vh.Name, exists, err)
		}

		conn := vh.Dial(t)
		ch, err := conn.Channel()
		if err != nil {
			t.Fatalf("open channel: %v", err)
		}
		q, err := ch.QueueDeclare("roundtrip", true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		if err != nil {
			t.Fatalf("declare quorum queue: %v", err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatalf("enable confirms: %v", err)
		}
		body := []byte(`{"value": 3}`)
		dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", q.Name, true, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			Body:         body,
		})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		acked, err := dc.WaitContext(t.Context())
		if err != nil || !acked {
			t.Fatalf("publish confirm: acked=%v err=%v; want acked", acked, err)
		}

		deliveries, err := ch.ConsumeWithContext(t.Context(), q.Name, "", false, false, false, false, nil)
		if err != nil {
			t.Fatalf("consume: %v", err)
		}
		var d amqp.Delivery
		select {
		case d = <-deliveries:
		case <-t.Context().Done():
			t.Fatal("test ended before the message came back")
		}
		if got := string(d.Body); got != string(body) {
			t.Errorf("body = %q, want %q", got, body)
		}
		if err := d.Ack(false); err != nil {
			t.Errorf("ack: %v", err)
		}
		assertConnectionName(t, vh, t.Name())
	})
	if vh.Name == "" {
		t.Fatal("sub-test did not create a vhost")
	}
	exists, err := vh.Exists()
	if err != nil {
		t.Fatalf("check vhost %s after cleanup: %v", vh.Name, err)
	}
	if exists {
		t.Errorf("vhost %s still exists after its test's cleanup", vh.Name)
	}
}

// assertConnectionName checks that the management API lists a connection in
// the vhost named after the test. Connection listings are statistics the
// broker refreshes every few seconds, so it polls until the test's context
// ends rather than asserting a time.
func assertConnectionName(t *testing.T, vh brokertest.Vhost, want string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for {
		conns, err := vh.Client.ListConnections()
		if err != nil {
			t.Fatalf("list connections: %v", err)
		}
		for _, c := range conns {
			if c.Vhost == vh.Name {
				if got := c.ClientProperties["connection_name"]; got != want {
					t.Errorf("connection_name = %v, want %q", got, want)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no connection listed in vhost %s", vh.Name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestAMQPURLFailsWhenUnset(t *testing.T) {
	t.Setenv(brokertest.AMQPURLEnv, "")
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		brokertest.AMQPURL(ft)
	}()
	if !ft.failed || !strings.Contains(ft.msg, "make test") {
		t.Errorf("AMQPURL with the variable unset: failed=%v msg=%q; want a failure that names `make test`", ft.failed, ft.msg)
	}
}

func TestManagementURLFailsWhenUnset(t *testing.T) {
	t.Setenv(brokertest.ManagementURLEnv, "")
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		brokertest.ManagementURL(ft)
	}()
	if !ft.failed || !strings.Contains(ft.msg, "DGE_TEST_MANAGEMENT_URL") {
		t.Errorf("ManagementURL with the variable unset: failed=%v msg=%q; want a failure naming the variable", ft.failed, ft.msg)
	}
}

// fatalRecorder records a Fatalf instead of failing the real test; it stops
// the caller by panicking, which the test recovers.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}
