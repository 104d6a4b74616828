package plan

import (
	"fmt"
	"strings"

	"github.com/dgehq/dge/topology"
)

// markOldKeys sets OldKey on the create or delete of each binding that
// routes the old name of a renamed queue to it (topology.OldKeyBindings):
// created while the graph's moved block stays, deleted once it is removed.
func markOldKeys(p *Plan) {
	for i, c := range p.Changes {
		if c.Kind != KindBinding || (c.Action != Create && c.Action != Delete) {
			continue
		}
		o := c.After
		if o == nil {
			o = c.Before
		}
		b := o.Binding
		if b.DestinationType == "queue" && topology.OldKey(topology.Binding{Exchange: b.Source, Queue: b.Destination, Key: b.RoutingKey}) {
			p.Changes[i].OldKey = true
		}
	}
}

// oldKeyNote says, in the words of the plan's text, what an OldKey change
// means for the programs still running.
func oldKeyNote(c Change) string {
	o := c.After
	if o == nil {
		o = c.Before
	}
	b := o.Binding
	retry := strings.HasSuffix(b.Destination, topology.SuffixRetry)
	switch {
	case c.Action == Create && !retry:
		return fmt.Sprintf("queue %s also takes the old key %s while the moved block stays: running programs generated before the rename keep working; remove the moved block once they are all replaced, and the next apply drops this binding",
			b.Destination, b.RoutingKey)
	case c.Action == Create:
		return fmt.Sprintf("retries of messages sent with the old key %s wait in %s while the moved block stays", b.RoutingKey, b.Destination)
	case !retry:
		return fmt.Sprintf("queue %s no longer takes the old key %s (its moved block is gone): a program generated before the rename gets its publishes to %s returned (312 NO_ROUTE) and parks their inputs as unroutable",
			b.Destination, b.RoutingKey, b.RoutingKey)
	}
	return fmt.Sprintf("a message sent with the old key %s that fails after this apply is dropped instead of retried (RabbitMQ drops a dead-letter it cannot route): apply this once %s and %s hold none",
		b.RoutingKey, strings.TrimSuffix(b.Destination, topology.SuffixRetry), b.Destination)
}
