package runtime

// aggState is an aggregate node's join state on one channel.
type aggState struct{}

// aggregateLoop joins the parts of an aggregate node.
func (s *session) aggregateLoop(deliveries <-chan Delivery) {
	for range deliveries {
	}
}
