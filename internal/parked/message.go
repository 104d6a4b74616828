package parked

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/envelope"
)

// PreviewBytes is how much of a parked message's body Message.Body holds.
const PreviewBytes = 200

// Message is what the operations report of one parked message: one line of
// dge parked list -json.
type Message struct {
	Node      string `json:"node"`
	Queue     string `json:"queue"`
	RunID     string `json:"run_id"`
	MessageID string `json:"message_id"`
	Reason    string `json:"reason"`
	Error     string `json:"error"`
	Attempt   int64  `json:"attempt"`
	// ParkedAt is when the message was parked (RFC 3339, UTC), or empty
	// (omitted from JSON) when the copy does not say: see parkedAt.
	ParkedAt string `json:"parked_at,omitempty"`
	Body     string `json:"body"`
	// SplitState describes a gather's parked state of a split (header
	// x-dge-state "checkpoint"); nil for any other parked message.
	SplitState *SplitState `json:"split_state,omitempty"`
}

// SplitState is what dge parked shows of a gather's parked state of one
// split: which split, and how many of its items the gather held.
type SplitState struct {
	Split string `json:"split"`    // the split node's name
	ID    string `json:"split_id"` // the split's ID
	Have  int    `json:"have"`     // items gathered
	Count int    `json:"count"`    // items the split made
	// Failed names the node where one of its items failed, if one did.
	Failed string `json:"failed_node,omitempty"`
}

// String says what the parked state holds, for dge parked list.
func (s SplitState) String() string {
	t := fmt.Sprintf("gather state of split %s (ID %s): %d of %s", s.Split, s.ID, s.Have, config.Plural(s.Count, "item"))
	if s.Failed != "" {
		t += ", an item failed at " + s.Failed
	}
	return t
}

// splitStateOf reads a parked gather state; nil when d is none or its body
// cannot be read (the body preview then shows it as it is).
func splitStateOf(d amqp.Delivery) *SplitState {
	if headerString(d.Headers, envelope.HeaderState) != envelope.StateCheckpoint {
		return nil
	}
	var c envelope.Checkpoint
	if err := json.Unmarshal(d.Body, &c); err != nil || len(c.States) != 1 {
		return nil
	}
	st := c.States[0]
	out := &SplitState{Split: st.Split, ID: st.ID, Count: st.Count}
	for _, b := range st.Have {
		out.Have += bits.OnesCount8(b)
	}
	if st.Failed != nil {
		out.Failed = st.Failed.Node
	}
	return out
}

// describe reads a parked message of edge e.
func describe(e Edge, d amqp.Delivery) Message {
	at := parkedAt(d.Headers)
	body := d.Body
	if len(body) > PreviewBytes {
		body = body[:PreviewBytes]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	preview := strings.ToValidUTF8(string(body), "?")
	if len(d.Body) > PreviewBytes {
		preview += "..."
	}
	return Message{
		Node: e.Node, Queue: e.Dead, RunID: headerString(d.Headers, envelope.HeaderRunID), MessageID: d.MessageId,
		Reason: headerString(d.Headers, envelope.HeaderReason), Error: headerString(d.Headers, envelope.HeaderError),
		Attempt: headerInt(d.Headers, envelope.HeaderAttempt), ParkedAt: at, Body: preview,
		SplitState: splitStateOf(d),
	}
}

// parkedAt returns when a parked copy with headers h was parked: the
// envelope.HeaderParkedAt the runtime sets on every copy it parks, else,
// for a copy the broker dead-lettered for its delivery limit, the time of
// that x-death entry; "" when neither says (a copy parked by an older
// runtime). The publish time is no answer: it is when the run's message
// was first published, often long before.
func parkedAt(h amqp.Table) string {
	if v := headerString(h, envelope.HeaderParkedAt); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	deaths, _ := h["x-death"].([]any)
	for _, x := range deaths {
		if e, ok := x.(amqp.Table); ok && e["reason"] == "delivery_limit" {
			if t, ok := e["time"].(time.Time); ok {
				return t.UTC().Format(time.RFC3339)
			}
		}
	}
	return ""
}

// headerString returns a string header, or "".
func headerString(h amqp.Table, k string) string {
	switch v := h[k].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

// headerInt returns an integer header, or 0.
func headerInt(h amqp.Table, k string) int64 {
	switch v := h[k].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	}
	return 0
}
