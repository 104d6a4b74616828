// Package parked holds the operations on a running graph's parked messages
// (the messages of its dead queues, Q.dead of each edge): list, count,
// redrive and purge, selected by node, reason and run. It returns data
// (Message, Count, errors) and never prints: dge parked renders what it
// returns as text or JSON, and any other front end (a web console) calls
// the same operations rather than a second implementation.
//
// A Session binds a graph to an AMQP connection (an apply.Mover) of its
// vhost. Every operation reads each selected dead queue once, in order,
// with manual acknowledgements (see apply.Mover.Parked): listing and
// counting leave every message in place, redrive and purge take only the
// messages selected.
package parked
