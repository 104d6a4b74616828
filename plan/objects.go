package plan

import "sort"

// Exchange is an exchange as dge compares it.
type Exchange struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments,omitempty"`
}

// Queue is a queue as dge compares it. Type is the queue type ("classic",
// "quorum", "stream"); Arguments never hold x-queue-type, which Type
// replaces.
type Queue struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete bool           `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments,omitempty"`
}

// Binding is a binding from an exchange to a queue or an exchange.
// DestinationType is "queue" or "exchange".
type Binding struct {
	Source          string         `json:"source"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments,omitempty"`
}

// Policy is a vhost policy.
type Policy struct {
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply_to"`
	Priority   int            `json:"priority"`
	Definition map[string]any `json:"definition"`
}

// Owner says which live objects a graph owns: those stamped with its name,
// and the unstamped queues and exchanges it adopts.
type Owner struct {
	Graph string   `json:"graph"`
	Adopt []string `json:"adopt,omitempty"`
}

// Objects is a set of broker objects in one vhost, each list sorted by
// name (bindings by source, destination, routing key): the objects a graph
// needs (Desired) or those a vhost holds (a Snapshot's). What package
// topology derives for a graph is topology.Topology, from which Desired
// builds these.
type Objects struct {
	Owner     Owner      `json:"owner"`
	Vhost     string     `json:"vhost"`
	Exchanges []Exchange `json:"exchanges"`
	Queues    []Queue    `json:"queues"`
	Bindings  []Binding  `json:"bindings"`
	Policies  []Policy   `json:"policies"`
	// Moves are the queue renames of the graph's moved blocks, each edge
	// queue's companions included, sorted by From.
	Moves []QueueMove `json:"moves,omitempty"`
}

// QueueMove says where the messages of a renamed queue go: apply moves
// them from From to To, publishing to Exchange with RoutingKey when
// Exchange is set (a retry or poll queue, whose messages dead-letter with
// the routing key they were published with), else to To through the
// default exchange.
type QueueMove struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Exchange   string `json:"exchange,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`
}

// sort puts every list in its canonical order.
func (t *Objects) sort() {
	sort.Slice(t.Exchanges, func(i, j int) bool { return t.Exchanges[i].Name < t.Exchanges[j].Name })
	sort.Slice(t.Queues, func(i, j int) bool { return t.Queues[i].Name < t.Queues[j].Name })
	sort.Slice(t.Bindings, func(i, j int) bool { return t.Bindings[i].key() < t.Bindings[j].key() })
	sort.Slice(t.Policies, func(i, j int) bool { return t.Policies[i].Name < t.Policies[j].Name })
}
