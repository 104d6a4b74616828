package parked

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/apply"
)

// Detail is one parked message in full: what List reports of it, its whole
// body and its headers.
type Detail struct {
	Message Message
	// Body is the whole body, invalid UTF-8 replaced by "?".
	Body string
	// BodyJSON reports whether Body is a JSON document.
	BodyJSON bool
	// Headers are the AMQP headers, as JSON values: a byte array becomes a
	// string, a timestamp an RFC 3339 string, a table an object.
	Headers map[string]any
}

// ErrNotFound is returned by Find when the dead queue holds no message
// with the ID asked for.
var ErrNotFound = errors.New("no such parked message")

// Find reads the dead queue of node for the parked message whose message
// ID is id and returns it in full; every message stays parked, in its
// place. It returns an error wrapping ErrNotFound when none has the ID (it
// may have been redriven or purged since it was listed).
func (s *Session) Find(ctx context.Context, node, id string) (Detail, error) {
	edges, err := Edges(s.g, []string{node})
	if err != nil {
		return Detail{}, err
	}
	var out *Detail
	for _, e := range edges {
		_, err := s.m.Parked(ctx, e.Dead, apply.ParkedOptions{Op: apply.ParkedList, Limit: 1,
			Match: func(d amqp.Delivery) bool { return d.MessageId == id },
			Visit: func(d amqp.Delivery) error {
				body := strings.ToValidUTF8(string(d.Body), "?")
				out = &Detail{Message: describe(e, d), Body: body, BodyJSON: json.Valid(d.Body) && utf8.Valid(d.Body),
					Headers: headerValues(d.Headers)}
				return nil
			}})
		if err != nil {
			return Detail{}, err
		}
	}
	if out == nil {
		return Detail{}, fmt.Errorf("%s: %w with message ID %q: it may have been redriven or purged", node, ErrNotFound, id)
	}
	return *out, nil
}

// headerValues returns headers h as JSON values.
func headerValues(h amqp.Table) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		out[k] = headerValue(v)
	}
	return out
}

// headerValue returns an AMQP field value as a JSON value.
func headerValue(v any) any {
	switch v := v.(type) {
	case []byte:
		return strings.ToValidUTF8(string(v), "?")
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case amqp.Table:
		return headerValues(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = headerValue(x)
		}
		return out
	case amqp.Decimal:
		return fmt.Sprintf("%de-%d", v.Value, v.Scale)
	}
	return v
}
