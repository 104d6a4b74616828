package runtime

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgehq/dge/envelope"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The border check: every header and property a message brings from
// outside is checked once, when a node admits it (session.admit), before
// the runtime reads or copies any of it. A message that fails is parked
// alone with reason bad-header; its parked copy leaves the bad values out,
// so that it can itself be published. The publish side checks every
// message the runtime builds as well (checkPublish), so that a value that
// slipped through fails that one message instead of the channel: amqp091
// writes a publish's frames one by one, and one that cannot be encoded
// leaves a half-written message on the connection, which the broker
// closes.

// Limits of what the runtime takes in and sends.
const (
	// maxShortString is the size of an AMQP short string: message_id,
	// correlation_id (the run ID), type, app_id, user_id and header names.
	maxShortString = 255
	// maxHeaderBytes bounds the encoded size of a message's headers: far
	// below RabbitMQ's smallest usual frame_max (128 KiB), with room for
	// the headers the runtime adds to a parked copy.
	maxHeaderBytes = 32 << 10
	// maxHeaderDepth bounds the nesting of arrays and tables in a header.
	maxHeaderDepth = 8
	// maxTraceHeader bounds traceparent and tracestate (the W3C limit of a
	// tracestate is 32 members of at most 256 bytes).
	maxTraceHeader = 8 << 10
	// maxDeathEntries bounds x-death: the broker writes one entry per queue
	// and reason, a handful on a dge graph.
	maxDeathEntries = 64
	// maxErrorText bounds an error text the runtime writes into a header
	// (x-dge-error, x-dge-failed-error).
	maxErrorText = 4 << 10
)

// badHeader says which header or property of a message is unusable and
// why.
type badHeader struct {
	name    string // the header's name, or the property's (message_id, correlation_id)
	problem string
}

func (e badHeader) Error() string { return "header " + e.name + ": " + e.problem }

// checkDelivery checks every header and property of d the runtime reads or
// copies, and returns the first problem found, nil when there is none.
func checkDelivery(d Delivery) *badHeader {
	if err := checkShortString("message_id", d.MessageID); err != nil {
		return err
	}
	// The run ID comes from x-dge-run-id, or else correlation_id.
	if err := checkShortString(HeaderRunID, d.RunID); err != nil {
		return err
	}
	if err := checkShortString(HeaderSource, d.Source); err != nil {
		return err
	}
	if err := checkTrace(d.Message); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(d.Headers)) {
		if err := checkHeader(k, d.Headers[k]); err != nil {
			return err
		}
	}
	if n := headersSize(d.Headers); n > maxHeaderBytes {
		return &badHeader{"headers", fmt.Sprintf("%d bytes of headers, over the %d a node accepts", n, maxHeaderBytes)}
	}
	return nil
}

// checkShortString checks a string the runtime copies into an AMQP short
// string (and into JSON: valid UTF-8).
func checkShortString(name, s string) *badHeader {
	switch {
	case len(s) > maxShortString:
		return &badHeader{name, fmt.Sprintf("%d bytes (%s), over the %d of an AMQP short string", len(s), quoteStart(s), maxShortString)}
	case !utf8.ValidString(s):
		return &badHeader{name, fmt.Sprintf("not valid UTF-8 (%s)", quoteStart(s))}
	}
	return nil
}

// checkTrace checks the trace context a node copies to its outputs.
func checkTrace(m Message) *badHeader {
	for name, s := range map[string]string{HeaderTraceParent: m.TraceParent, HeaderTraceState: m.TraceState} {
		if err := checkText(name, s, maxTraceHeader); err != nil {
			return err
		}
	}
	return nil
}

// checkText checks a string header the runtime copies: valid UTF-8, at
// most limit bytes.
func checkText(name, s string, limit int) *badHeader {
	switch {
	case len(s) > limit:
		return &badHeader{name, fmt.Sprintf("%d bytes (%s), over the %d the runtime accepts", len(s), quoteStart(s), limit)}
	case !utf8.ValidString(s):
		return &badHeader{name, fmt.Sprintf("not valid UTF-8 (%s)", quoteStart(s))}
	}
	return nil
}

// checkHeader checks header k with value v: a name and value AMQP can
// carry, and, for a header the runtime reads, the type it expects.
func checkHeader(k string, v any) *badHeader {
	if len(k) > maxShortString || !utf8.ValidString(k) {
		return &badHeader{quoteStart(k), fmt.Sprintf("a header name of %d bytes, not valid UTF-8 or over the %d of an AMQP short string", len(k), maxShortString)}
	}
	if err := checkField(v, 0); err != nil {
		return &badHeader{k, err.Error()}
	}
	switch k {
	case HeaderAttempt, HeaderCrashes, HeaderRedriven, "x-delivery-count":
		if _, ok := intValue(v); !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want an integer", typeOf(v))}
		}
	case HeaderSuspect:
		if _, ok := v.(bool); !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want a boolean", typeOf(v))}
		}
	case HeaderFirstSeen, HeaderPollSince:
		s, ok := v.(string)
		if !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want an RFC 3339 time", typeOf(v))}
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return &badHeader{k, fmt.Sprintf("%s is not an RFC 3339 time", quoteStart(s))}
		}
	case HeaderFailedNode, HeaderFailedReason, HeaderFailedError:
		s, ok := v.(string)
		if !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want a string", typeOf(v))}
		}
		limit := maxShortString
		if k == HeaderFailedError {
			limit = maxErrorText
		}
		return checkText(k, s, limit)
	case HeaderRunID, HeaderSource, HeaderTraceParent, HeaderTraceState:
		if _, ok := v.(string); !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want a string", typeOf(v))}
		}
	case HeaderSplit:
		s, ok := v.(string)
		if !ok {
			return &badHeader{k, fmt.Sprintf("a %s, want split:id:index:count frames", typeOf(v))}
		}
		if _, err := parseSplitFrames(s); err != nil {
			return &badHeader{k, err.Error()}
		}
	case envelope.HeaderState:
		if s, ok := v.(string); !ok || !slices.Contains(envelope.States(), s) {
			return &badHeader{k, fmt.Sprintf("%s, want %s", quoteValue(v), quotedList(envelope.States()))}
		}
	case "x-death":
		return checkDeaths(v)
	}
	return nil
}

// quoteValue names a header value for an error text: a string quoted (its
// start), any other value by its type.
func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return quoteStart(s)
	}
	return "a " + typeOf(v)
}

// checkDeaths checks an x-death header: a list of tables, each with a
// queue, a reason and a count, as the broker writes it.
func checkDeaths(v any) *badHeader {
	list, ok := v.([]any)
	if !ok {
		return &badHeader{"x-death", fmt.Sprintf("a %s, want an array of tables", typeOf(v))}
	}
	if len(list) > maxDeathEntries {
		return &badHeader{"x-death", fmt.Sprintf("%d entries, over the %d the runtime accepts", len(list), maxDeathEntries)}
	}
	for i, e := range list {
		t, ok := asTable(e)
		if !ok {
			return &badHeader{"x-death", fmt.Sprintf("entry %d is a %s, want a table", i, typeOf(e))}
		}
		q, qok := t["queue"].(string)
		_, rok := t["reason"].(string)
		_, cok := intValue(t["count"])
		if !qok || !rok || !cok || len(q) > maxShortString {
			return &badHeader{"x-death", fmt.Sprintf("entry %d lacks a queue, reason or count of the types the broker writes", i)}
		}
	}
	return nil
}

// checkField checks that v is a value amqp091 can write, nested at most
// maxHeaderDepth deep, with table keys that fit a short string.
func checkField(v any, depth int) error {
	if depth > maxHeaderDepth {
		return fmt.Errorf("nested deeper than %d arrays or tables", maxHeaderDepth)
	}
	switch fv := v.(type) {
	case nil, bool, byte, int8, int, int16, int32, int64, uint16, uint32, float32, float64, string, []byte, amqp.Decimal, time.Time:
		return nil
	case []any:
		for _, e := range fv {
			if err := checkField(e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	t, ok := asTable(v)
	if !ok {
		return fmt.Errorf("a value of Go type %T, which AMQP cannot carry", v)
	}
	for k, e := range t {
		if len(k) > maxShortString {
			return fmt.Errorf("a table key of %d bytes, over the %d of an AMQP short string", len(k), maxShortString)
		}
		if err := checkField(e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// asTable returns v as a table: amqp.Table as amqp091 delivers it, or a
// plain map as a Message's Headers may hold.
func asTable(v any) (map[string]any, bool) {
	switch t := v.(type) {
	case amqp.Table:
		return t, true
	case map[string]any:
		return t, true
	}
	return nil, false
}

// intValue returns v as an int when it is an integer.
func intValue(v any) (int, bool) {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint8, uint16, uint32:
		return toInt(v), true
	}
	return 0, false
}

// typeOf names v's type as an error message says it.
func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "void"
	case string:
		return "string"
	case []any:
		return "array"
	case amqp.Table, map[string]any:
		return "table"
	case []byte:
		return "byte array"
	}
	return fmt.Sprintf("%T", v)
}

// quoteStart quotes the start of s for an error text: at most 32 bytes,
// escaped, so that a bad value never makes the error itself bad.
func quoteStart(s string) string {
	if len(s) <= 32 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", s[:32])
}

// headersSize returns the encoded size of a header table, as amqp091
// writes it.
func headersSize(h map[string]any) int {
	n := 4
	for k, v := range h {
		n += 1 + len(k) + fieldSize(v)
	}
	return n
}

// fieldSize returns the encoded size of one field value (see amqp091's
// writeField).
func fieldSize(v any) int {
	switch fv := v.(type) {
	case nil:
		return 1
	case bool, byte, int8:
		return 2
	case int16, uint16:
		return 3
	case int, int32, uint32, float32:
		return 5
	case amqp.Decimal:
		return 6
	case int64, float64, time.Time:
		return 9
	case string:
		return 5 + len(fv)
	case []byte:
		return 5 + len(fv)
	case []any:
		n := 5
		for _, e := range fv {
			n += fieldSize(e)
		}
		return n
	}
	if t, ok := asTable(v); ok {
		return 1 + headersSize(t)
	}
	return 1
}

// cleanForPark returns d as its parked copy may carry it after problem
// was found: without the bad property or header, and without any other
// value the publish would fail on (the same checks, every header), so the
// copy can be published. It returns the names of what it left out.
func cleanForPark(d Delivery) (Delivery, []string) {
	var dropped []string
	if checkShortString("message_id", d.MessageID) != nil {
		// A stable stand-in: the same for every redelivery.
		d.MessageID = deriveID(d.MessageID, nil, "", string(envelope.BadHeader))
		dropped = append(dropped, "message_id")
	}
	if checkShortString(HeaderRunID, d.RunID) != nil {
		d.RunID = ""
		dropped = append(dropped, HeaderRunID)
	}
	if checkShortString(HeaderSource, d.Source) != nil {
		d.Source = ""
		dropped = append(dropped, HeaderSource)
	}
	if checkTrace(d.Message) != nil {
		d.TraceParent, d.TraceState = "", ""
		dropped = append(dropped, HeaderTraceParent)
	}
	h := make(map[string]any, len(d.Headers))
	for k, v := range d.Headers {
		if checkHeader(k, v) != nil {
			dropped = append(dropped, k)
			continue
		}
		h[k] = v
	}
	// Too large together: drop the largest until they fit.
	for headersSize(h) > maxHeaderBytes {
		var big string
		for k, v := range h {
			if big == "" || fieldSize(v) > fieldSize(h[big]) {
				big = k
			}
		}
		delete(h, big)
		dropped = append(dropped, big)
	}
	d.Headers = h
	slices.Sort(dropped)
	for i, k := range dropped {
		if len(k) > 64 || !utf8.ValidString(k) {
			dropped[i] = quoteStart(k)
		}
	}
	return d, dropped
}

// errUnpublishable is wrapped by a Publish error for a message the
// transport refused to send, the channel untouched: a property or header
// AMQP cannot carry (see checkPublish).
var errUnpublishable = errors.New("message cannot be published")

// DefaultFrameSize is RabbitMQ's default frame_max, the frame size the
// in-memory broker holds publishes to.
const DefaultFrameSize = 128 << 10

// CheckPublishable reports, as an error wrapping the reason, whether m
// cannot be published on a connection with frames of frameSize bytes: a
// transport calls it before writing anything, so that such a message
// fails its own publish and never the channel.
func CheckPublishable(m Message, frameSize int) error {
	return checkPublish(toAMQP(m), maxHeadersIn(frameSize))
}

// checkPublish checks a message before a transport publishes it, so that
// a value AMQP cannot carry fails that one publish, never the channel:
// short strings within 255 bytes, header names and values AMQP can carry,
// and headers within maxHeaders bytes.
func checkPublish(p amqp.Publishing, maxHeaders int) error {
	// An array, not a map: this runs for every publish.
	for _, f := range [...]struct{ name, s string }{
		{"message_id", p.MessageId}, {"correlation_id", p.CorrelationId}, {"type", p.Type}, {"app_id", p.AppId},
		{"user_id", p.UserId}, {"content_type", p.ContentType}, {"content_encoding", p.ContentEncoding},
		{"reply_to", p.ReplyTo}, {"expiration", p.Expiration},
	} {
		if len(f.s) > maxShortString {
			return fmt.Errorf("%w: %s of %d bytes, over the %d of an AMQP short string", errUnpublishable, f.name, len(f.s), maxShortString)
		}
	}
	for k, v := range p.Headers {
		if len(k) > maxShortString {
			return fmt.Errorf("%w: a header name of %d bytes, over the %d of an AMQP short string", errUnpublishable, len(k), maxShortString)
		}
		if err := checkField(v, 0); err != nil {
			return fmt.Errorf("%w: header %s: %v", errUnpublishable, k, err)
		}
	}
	if n := headersSize(p.Headers); n > maxHeaders {
		return fmt.Errorf("%w: %d bytes of headers, over the %d this connection's frames hold", errUnpublishable, n, maxHeaders)
	}
	return nil
}

// clipText cuts an error text the runtime writes into a header to
// maxErrorText bytes, at a rune boundary.
func clipText(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + fmt.Sprintf("… (%d bytes)", len(s))
}

// parkBadHeader parks d, whose header or property bad the runtime cannot
// use or copy, with reason bad-header: a copy without the bad values goes
// to Q.dead, and the error names what was wrong and what the copy leaves
// out.
func (s *session) parkBadHeader(d Delivery, attempt int, bad *badHeader) {
	clean, dropped := cleanForPark(d)
	errText := bad.Error()
	if len(dropped) > 0 {
		errText += "; the parked copy leaves out " + strings.Join(dropped, ", ")
	}
	s.park(clean, attempt, envelope.BadHeader, errText)
}

// quotedList renders words as `"a", "b" or "c"`.
func quotedList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
