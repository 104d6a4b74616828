package runtime

import (
	"time"

	"github.com/dgehq/dge/envelope"
)

// Headers the runtime writes on aggregate parts it rotates to count crash
// loops over handler calls only (see aggJoin).
const (
	HeaderSuspect = envelope.HeaderSuspect // aggregate parts: came back from a consumer that died or lost its channel
	HeaderCrashes = envelope.HeaderCrashes // aggregate parts: handler calls of the part's group that may have crashed
)

// maxHeaderCount bounds a count read from a header: counts past it mean
// nothing the runtime would act on differently, and a forged one must not
// overflow an int.
const maxHeaderCount = 1 << 20

// headerCount reads a non-negative count from header key: 0 when it is
// absent, not a number or negative, at most maxHeaderCount. Headers come
// from outside too, so a forged value can shorten what the runtime allows,
// never extend it.
func headerCount(h map[string]any, key string) int {
	return clampCount(toInt(h[key]))
}

// clampCount bounds a count that came from outside to [0, maxHeaderCount].
func clampCount(n int) int {
	return min(max(n, 0), maxHeaderCount)
}

// headerFlag reports whether header key holds true.
func headerFlag(h map[string]any, key string) bool {
	v, _ := h[key].(bool)
	return v
}

// headerTime reads an RFC 3339 time from header key. It returns now when the
// header is absent or does not parse, and never a time after now: a forged
// time in the future must not extend a wait.
func headerTime(h map[string]any, key string, now time.Time) time.Time {
	s, ok := h[key].(string)
	if !ok {
		return now
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.After(now) {
		return now
	}
	return t
}

// The headers the runtime sets on every message it publishes, and on some.
// They are package envelope's, which names them for the commands that read
// them too.
const (
	HeaderRunID     = envelope.HeaderRunID     // the run the message belongs to
	HeaderSource    = envelope.HeaderSource    // address of the node that published it
	HeaderAttempt   = envelope.HeaderAttempt   // attempt of the handler that produced it; on a parked copy, attempts made
	HeaderReason    = envelope.HeaderReason    // parked copies: why, an envelope.Reason (max-attempts, permanent, decode, ...)
	HeaderError     = envelope.HeaderError     // parked copies: the last error's text
	HeaderNode      = envelope.HeaderNode      // parked copies: address of the node that parked it
	HeaderFirstSeen = envelope.HeaderFirstSeen // aggregate parts: when the aggregate first saw the part (RFC 3339, UTC)
	HeaderPollSince = envelope.HeaderPollSince // poll messages: when polling started (RFC 3339, UTC)
	// HeaderRedriven counts how often dge parked redrive put a message back.
	// Nodes copy it to their outputs, so that an aggregate lets a redriven
	// run join again after it failed.
	HeaderRedriven = envelope.HeaderRedriven
)

// The W3C trace context headers: every message a traced runtime publishes
// carries the context of the span that published it (Message.TraceParent
// and Message.TraceState; see tracer).
const (
	HeaderTraceParent = envelope.HeaderTraceParent
	HeaderTraceState  = envelope.HeaderTraceState
)
