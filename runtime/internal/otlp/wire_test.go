package otlp

import (
	"bytes"
	"errors"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestMarshalRequest checks that the hand-made encoding is the one
// proto.Marshal makes of the collector's generated message, byte for byte,
// and that it decodes to the same spans.
func TestMarshalRequest(t *testing.T) {
	two := append(testSpans("a", "b"), testSpans("c")...)
	for name, spans := range map[string][]*tracepb.ResourceSpans{
		"none": nil, "one resource": testSpans("a"), "two resources": two, "an empty resource": {{}},
	} {
		got, err := marshalRequest(spans)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: spans})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: marshalRequest differs from proto.Marshal:\n got %x\nwant %x", name, got, want)
		}
		var back coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(got, &back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(&back, &coltracepb.ExportTraceServiceRequest{ResourceSpans: spans}) {
			t.Errorf("%s: decoded %v, want %v", name, &back, spans)
		}
	}
}

// TestParseResponse decodes responses that proto.Marshal made of the
// collector's generated message, with fields the client does not know
// added, and malformed ones.
func TestParseResponse(t *testing.T) {
	marshal := func(m *coltracepb.ExportTraceServiceResponse) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	partial := func(n int64, msg string) *coltracepb.ExportTraceServiceResponse {
		return &coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: n, ErrorMessage: msg}}
	}
	// A partial success with an unknown field of each wire type inside, and
	// one outside.
	inner := marshal(partial(3, "bad spans"))[2:] // the partial success's content
	inner = protowire.AppendVarint(protowire.AppendTag(inner, 9, protowire.VarintType), 7)
	inner = protowire.AppendString(protowire.AppendTag(inner, 10, protowire.BytesType), "x")
	inner = protowire.AppendFixed32(protowire.AppendTag(inner, 11, protowire.Fixed32Type), 1)
	inner = protowire.AppendFixed64(protowire.AppendTag(inner, 12, protowire.Fixed64Type), 1)
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1)
	unknown = protowire.AppendBytes(protowire.AppendTag(unknown, fieldPartialSuccess, protowire.BytesType), inner)

	for _, tt := range []struct {
		name string
		in   []byte
		want *PartialSuccess
	}{
		{"empty body", nil, nil},
		{"no partial success", marshal(&coltracepb.ExportTraceServiceResponse{}), nil},
		{"empty partial success", marshal(partial(0, "")), nil},
		{"rejected", marshal(partial(2, "too old")), &PartialSuccess{Rejected: 2, Message: "too old"}},
		{"warning only", marshal(partial(0, "deprecated")), &PartialSuccess{Message: "deprecated"}},
		{"negative", marshal(partial(-1, "")), &PartialSuccess{Rejected: -1}},
		{"unknown fields", unknown, &PartialSuccess{Rejected: 3, Message: "bad spans"}},
		{"twice, merged", append(marshal(partial(2, "first")), marshal(partial(0, "second"))...), &PartialSuccess{Rejected: 2, Message: "second"}},
	} {
		got, err := parseResponse(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	good := marshal(partial(2, "too old"))
	for name, in := range map[string][]byte{
		"truncated":        good[:len(good)-1],
		"truncated inside": protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), good[2:len(good)-1]),
		"bad tag":          {0x80},
		"field 0":          {0x00, 0x01},
	} {
		if _, err := parseResponse(in); !errors.Is(err, errMalformed) {
			t.Errorf("%s: error %v, want one wrapping errMalformed", name, err)
		}
	}
}

// TestPartialSuccessError checks the error's text.
func TestPartialSuccessError(t *testing.T) {
	if got, want := (&PartialSuccess{Rejected: 2, Message: "too old"}).Error(), "OTLP partial success: 2 spans rejected: too old"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := (&PartialSuccess{}).Error(), "OTLP partial success: 0 spans rejected: no message"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
