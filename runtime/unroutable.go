package runtime

import (
	"errors"
	"fmt"

	"github.com/dgehq/dge/envelope"
)

// Unroutable outputs: when the broker returns an output (312 NO_ROUTE: no
// queue is bound to its key), retrying the input cannot help, since every
// retry publishes to the same key; the topology changed under the
// program (a queue renamed or removed by a later apply). The acker counts
// every returned output (dge_publish_returned_total) and, for the
// deliveries whose ackItem carries the input (ackItem.in), parks the input
// at once with reason envelope.Unroutable and an error that says which
// exchange and key were unroutable and what to do, through parkUnroutable:
// one path for every node kind's outputs.

// returned reports whether err, a confirmation's, means the broker
// returned the message as unroutable.
func returned(err error) bool { return errors.Is(err, ErrReturned) }

// unroutableText is the parked error of an input whose output the broker
// returned with err.
func unroutableText(err error) string {
	return fmt.Sprintf("an output was returned unroutable (%v): no queue of the vhost takes that key any more, so the graph's topology changed under this program (a queue renamed or removed by a later dge apply). "+
		"Run dge plan to compare, run the program generated from the current graph (dge generate), then redrive this message", err)
}

// parkUnroutable parks d, whose output the broker returned with err, as
// envelope.Unroutable. It runs on a goroutine of its own, started by the
// acker (whose items it submits to), and settles d's tag with the park's
// own ackItem. No failure notice is sent: the node's outputs are where the
// notice would go, and one of them takes no message.
func (s *session) parkUnroutable(d Delivery, attempt int, err error) {
	s.parkWith(d, attempt, envelope.Unroutable, unroutableText(err), parkOpts{report: true})
}
