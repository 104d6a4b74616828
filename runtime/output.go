package runtime

// What a node's outputs carry besides their body: an ID derived from the
// input's (the same for every redelivery), the run ID (given to a message
// from outside dge that has none), the redrive count, the splits the
// input is an item of, the trace context.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// externalRunID gives a message published without dge's envelope (no run
// ID: not by publish, local or a node) the run ID it keeps downstream, so
// its outputs can be joined and its failure reported: derived from its
// AMQP message ID when it has one (the same for every redelivery), else
// new.
func (s *session) externalRunID(d Delivery) string {
	id := newRunID()
	if d.MessageID != "" {
		id = deriveID(d.MessageID, nil, "run-id", s.r.n.in.Queue)
	}
	s.r.log.Debug("message without a run ID given one", "message_id", d.MessageID, "run_id", id)
	return id
}

// deriveID returns the ID of the output a node publishes to queue for an
// input: the same for every redelivery of the input.
func deriveID(inputID string, body []byte, node, queue string) string {
	var buf [256]byte // on the stack for the usual short IDs and names
	b := buf[:0]
	if inputID != "" {
		b = append(b, inputID...)
	} else {
		b = append(b, body...)
	}
	b = append(b, 0)
	b = append(b, node...)
	b = append(b, 0)
	b = append(b, queue...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// newRunID returns a new random run ID.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// output builds the message a node publishes to queue to for delivery d:
// it carries the context of d's span, or, when the node does not trace, the
// context d carries, so that a run stays one trace across it.
func (s *session) output(d Delivery, to string, attempt int, body []byte) Message {
	m := Message{
		Body:      body,
		MessageID: deriveID(d.MessageID, d.Body, s.r.addr, to),
		RunID:     d.RunID,
		Source:    s.r.addr,
		Attempt:   attempt,
		Headers:   outputHeaders(d.Headers),
	}
	continueTrace(d.span, d.Message, &m)
	return m
}

// outputHeaders returns the headers of an output of a process, fan_out or
// poll node whose input has headers h: h's HeaderRedriven and HeaderSplit,
// those it has, unchanged; nil when it has neither (the common case
// allocates nothing).
func outputHeaders(h map[string]any) map[string]any {
	rv, redriven := h[HeaderRedriven]
	sv, split := h[HeaderSplit]
	switch {
	case !split:
		if !redriven {
			return nil
		}
		return map[string]any{HeaderRedriven: rv}
	case !redriven:
		return map[string]any{HeaderSplit: sv}
	}
	return map[string]any{HeaderRedriven: rv, HeaderSplit: sv}
}

// redrivenHeaders returns the headers of an output of a message with headers h:
// HeaderRedriven when h has it, else nil (the common case allocates
// nothing).
func redrivenHeaders(h map[string]any) map[string]any {
	v, ok := h[HeaderRedriven]
	if !ok {
		return nil
	}
	return map[string]any{HeaderRedriven: v}
}
