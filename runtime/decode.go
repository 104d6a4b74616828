package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// DefaultMaxBody is the largest message body a node decodes when the graph
// sets no other limit (Graph.MaxBody, or DGE_MAX_BODY for a generated
// program): 16 MiB. A larger body is parked with reason decode, unread.
const DefaultMaxBody = 16 << 20

// previewSize is how much of a body a Failure carries.
const previewSize = 1024

// Decode decodes body as exactly one JSON value of type T, strictly: an
// unknown object field, a top-level null (unless T is a pointer or an
// interface), a value of the wrong type, and anything after the value are
// errors, and so are a UTF-8 byte order mark and bytes that are not UTF-8
// (encoding/json would silently turn them into U+FFFD). Every path that
// reads a message body (publish, the nodes, consume, local, dgetest)
// decodes with it.
func Decode[T any](body []byte) (T, error) {
	var v T
	if err := checkUTF8(body); err != nil {
		return v, err
	}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		switch reflect.TypeFor[T]().Kind() {
		case reflect.Pointer, reflect.Interface:
		default:
			return v, fmt.Errorf("null is not a %s", typeName[T]())
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return v, errors.New("empty body: want a JSON value")
		}
		return v, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte order mark.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checkUTF8 refuses a body JSON may not be: one that starts with a byte
// order mark (RFC 8259 forbids it), or is not valid UTF-8.
func checkUTF8(body []byte) error {
	if bytes.HasPrefix(body, utf8BOM) {
		return errors.New("body starts with a UTF-8 byte order mark (EF BB BF); send JSON without it")
	}
	if utf8.Valid(body) {
		return nil
	}
	at := 0
	for at < len(body) {
		r, size := utf8.DecodeRune(body[at:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		at += size
	}
	return fmt.Errorf("body is not valid UTF-8: byte %#02x at offset %d; send JSON text encoded as UTF-8", body[at], at)
}

func typeName[T any]() string {
	t := reflect.TypeFor[T]()
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// decodeJSON is Decode with the value boxed, for Node.decode.
func decodeJSON[T any](body []byte) (any, error) {
	v, err := Decode[T](body)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// strictJSON decodes body with Decode and returns it re-encoded compactly.
func strictJSON[T any](body []byte) ([]byte, error) {
	v, err := Decode[T](body)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return out, nil
}

// bodyTooLarge is the error for a body over the graph's limit.
type bodyTooLarge struct{ size, limit int }

func (e bodyTooLarge) Error() string {
	return fmt.Sprintf("body of %d bytes is over the limit of %d bytes (raise it with DGE_MAX_BODY)", e.size, e.limit)
}

// maxBody returns the graph's body size limit.
func (g *Graph) maxBody() int {
	if g.MaxBody > 0 {
		return g.MaxBody
	}
	return DefaultMaxBody
}

// decodeBody decodes a body n consumes: the size limit first (an oversized
// body is never parsed), then n's strict decoder.
func (n Node) decodeBody(body []byte, limit int) (any, error) {
	if len(body) > limit {
		return nil, bodyTooLarge{len(body), limit}
	}
	return n.decode(body)
}

// decodePart decodes a part an aggregate received from its i-th input: as
// that Part's type when its parts are typed (Join), else as decodeBody
// does. message is the type it decoded as, for errors.
func (n Node) decodePart(i int, body []byte, limit int) (v any, message string, err error) {
	if n.parts == nil {
		v, err = n.decodeBody(body, limit)
		return v, n.in.Message, err
	}
	p := n.parts[i]
	if len(body) > limit {
		return nil, p.message, bodyTooLarge{len(body), limit}
	}
	v, err = p.decode(body)
	return v, p.message, err
}

// validateBody checks a body a start node publishes, as decodeBody does,
// and returns it compacted.
func (n Node) validateBody(body []byte, limit int) ([]byte, error) {
	if len(body) > limit {
		return nil, bodyTooLarge{len(body), limit}
	}
	return n.validate(body)
}

// preview returns at most previewSize bytes of body, cut at a rune
// boundary, with a note of the size when it was cut.
func preview(body []byte) []byte {
	if len(body) <= previewSize {
		return body
	}
	cut := previewSize
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	out := append([]byte(nil), body[:cut]...)
	return append(out, "… ("+strconv.Itoa(len(body))+" bytes)"...)
}
