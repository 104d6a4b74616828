// Package status reads where the messages of a running graph are: one Row
// per edge (the queue Q that feeds a node, with its Q.retry, Q.dead, Q.poll
// and, for a gather, Q.state), the connections whose publishes the broker
// returns as unroutable, and the problems that make the graph need
// attention, each a sentence ending with what to do.
//
// Read makes the management API requests; Build turns queue statistics
// into a Report without a network, so tests feed it fixed listings. dge
// status, dge graph -status and dge console all read through this package;
// the Report's JSON (with FormatVersion) is what dge status -json prints.
package status
