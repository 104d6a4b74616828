// Package brokertest gives integration tests a private RabbitMQ vhost on the
// real broker named by the environment.
//
// Tests read the broker from DGE_TEST_AMQP_URL (for example
// amqp://guest:guest@127.0.0.1:5672/) and DGE_TEST_MANAGEMENT_URL (for example
// http://guest:guest@127.0.0.1:15672). When either is unset, or the broker does
// not answer, the test fails: it never skips, so a missing broker cannot pass
// for a green run. `make test` starts a broker and sets both variables.
//
// Each test gets its own vhost, deleted in t.Cleanup, so tests may run in
// parallel and leave the broker as they found it:
//
//	func TestDeclare(t *testing.T) {
//		vh := brokertest.NewVhost(t)
//		conn := vh.Dial(t) // named after the test, closed in t.Cleanup
//		ch, err := conn.Channel()
//		...
//	}
package brokertest
