package runtime

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
