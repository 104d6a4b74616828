package otlp

import (
	"errors"
	"fmt"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The field numbers of the OTLP messages this file encodes and decodes by
// hand (opentelemetry/proto/collector/trace/v1/trace_service.proto).
const (
	// ExportTraceServiceRequest.resource_spans: repeated ResourceSpans.
	fieldResourceSpans protowire.Number = 1
	// ExportTraceServiceResponse.partial_success: ExportTracePartialSuccess.
	fieldPartialSuccess protowire.Number = 1
	// ExportTracePartialSuccess.rejected_spans: int64.
	fieldRejectedSpans protowire.Number = 1
	// ExportTracePartialSuccess.error_message: string.
	fieldErrorMessage protowire.Number = 2
)

// marshalRequest returns the protobuf encoding of the
// ExportTraceServiceRequest holding spans: field 1, length-delimited, once
// for each ResourceSpans. It is what proto.Marshal makes of the generated
// message, without importing the collector's package (which brings gRPC).
func marshalRequest(spans []*tracepb.ResourceSpans) ([]byte, error) {
	sizes := make([]int, len(spans))
	total := 0
	for i, rs := range spans {
		sizes[i] = proto.Size(rs)
		total += protowire.SizeTag(fieldResourceSpans) + protowire.SizeBytes(sizes[i])
	}
	b := make([]byte, 0, total)
	opts := proto.MarshalOptions{UseCachedSize: true} // the sizes were just computed
	for i, rs := range spans {
		b = protowire.AppendTag(b, fieldResourceSpans, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i]))
		start := len(b)
		var err error
		if b, err = opts.MarshalAppend(b, rs); err != nil {
			return nil, fmt.Errorf("encoding the spans: %w", err)
		}
		if n := len(b) - start; n != sizes[i] {
			return nil, fmt.Errorf("encoding the spans: resource spans %d took %d bytes, %d announced (was it changed while being exported?)", i, n, sizes[i])
		}
	}
	return b, nil
}

// PartialSuccess is the error reported through otel.Handle when a receiver
// accepted an export but rejected some of its spans, or warned about it:
// the response's partial_success, as the receiver put it.
type PartialSuccess struct {
	// Rejected is the number of spans the receiver rejected.
	Rejected int64
	// Message is the receiver's explanation (or warning), maybe empty.
	Message string
}

// Error says how many spans the receiver rejected, and why.
func (e *PartialSuccess) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("OTLP partial success: %d spans rejected: %s", e.Rejected, msg)
}

// errMalformed is wrapped by the errors of a response that is not valid
// protobuf.
var errMalformed = errors.New("malformed ExportTraceServiceResponse")

// parseResponse decodes an ExportTraceServiceResponse and returns its
// partial_success, or nil when it has none or an empty one (all spans
// accepted, no warning). Fields it does not know are skipped; a field that
// occurs twice merges as protobuf says (the last scalar wins).
func parseResponse(b []byte) (*PartialSuccess, error) {
	var ps PartialSuccess
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fieldPartialSuccess || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			switch {
			case num == fieldRejectedSpans && typ == protowire.VarintType:
				n, _ := protowire.ConsumeVarint(v) // eachField checked it
				ps.Rejected = int64(n)
			case num == fieldErrorMessage && typ == protowire.BytesType:
				ps.Message = string(v)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if ps.Rejected == 0 && ps.Message == "" {
		return nil, nil
	}
	return &ps, nil
}

// eachField calls f with each field of the protobuf message b: its number,
// its wire type, and its value (a varint's encoding, or a length-delimited
// field's content without its length). Groups and fixed-size fields are
// passed whole.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("%w: field %d: %w", errMalformed, num, protowire.ParseError(m))
		}
		v := b[:m]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v) // ConsumeFieldValue checked it
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}
