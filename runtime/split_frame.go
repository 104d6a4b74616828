package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dgehq/dge/envelope"
)

// HeaderSplit says which splits a message is an item of (see package
// envelope): one frame per split it is inside, outermost first.
const HeaderSplit = envelope.HeaderSplit

// Limits of the x-dge-split header the runtime accepts: what a graph can
// nest is far below them, so a header past them came from outside.
const (
	maxSplitFrames = 16
	maxSplitCount  = 1 << 31
	maxSplitHeader = 2048
)

// splitFrame is one split a message is inside: the split node's name, the
// split's ID (derived from the split's input, the same for every
// redelivery), the item's index and the split's count. Count 0 (index 0)
// is the one message a split of no items sends to its gather.
type splitFrame struct {
	Split string
	ID    string
	Index int
	Count int
}

// empty reports whether f is a split of no items' message to its gather.
func (f splitFrame) empty() bool { return f.Count == 0 }

// String renders f as the header writes it: "split:id:index:count".
func (f splitFrame) String() string {
	return f.Split + ":" + f.ID + ":" + strconv.Itoa(f.Index) + ":" + strconv.Itoa(f.Count)
}

// splitFrames is the stack of splits a message is inside, outermost first.
type splitFrames []splitFrame

// String renders fs as the value of HeaderSplit ("" for none).
func (fs splitFrames) String() string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// top returns the innermost frame; ok is false for a message outside any
// split.
func (fs splitFrames) top() (f splitFrame, ok bool) {
	if len(fs) == 0 {
		return splitFrame{}, false
	}
	return fs[len(fs)-1], true
}

// pop returns fs without its innermost frame.
func (fs splitFrames) pop() splitFrames {
	if len(fs) == 0 {
		return nil
	}
	return fs[: len(fs)-1 : len(fs)-1]
}

// push returns fs with f as its innermost frame (fs itself unchanged).
func (fs splitFrames) push(f splitFrame) splitFrames {
	out := make(splitFrames, len(fs), len(fs)+1)
	copy(out, fs)
	return append(out, f)
}

// splitFramesOf reads the x-dge-split header of h: nil when absent, an
// error when it is present but malformed (a border check parks such a
// message as bad-header; see checkHeader).
func splitFramesOf(h map[string]any) (splitFrames, error) {
	v, ok := h[HeaderSplit]
	if !ok {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("a %s, want a string", typeOf(v))
	}
	return parseSplitFrames(s)
}

// parseSplitFrames parses the value of the x-dge-split header.
func parseSplitFrames(s string) (splitFrames, error) {
	if s == "" {
		return nil, errors.New("empty, want split:id:index:count frames")
	}
	if len(s) > maxSplitHeader {
		return nil, fmt.Errorf("%d bytes, over the %d the runtime accepts", len(s), maxSplitHeader)
	}
	parts := strings.Split(s, ";")
	if len(parts) > maxSplitFrames {
		return nil, fmt.Errorf("%d frames, over the %d the runtime accepts", len(parts), maxSplitFrames)
	}
	fs := make(splitFrames, 0, len(parts))
	for _, p := range parts {
		f, err := parseSplitFrame(p)
		if err != nil {
			return nil, fmt.Errorf("frame %s: %w", quoteStart(p), err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func parseSplitFrame(p string) (splitFrame, error) {
	fields := strings.Split(p, ":")
	if len(fields) != 4 {
		return splitFrame{}, errors.New("want split:id:index:count")
	}
	f := splitFrame{Split: fields[0], ID: fields[1]}
	if f.Split == "" || f.ID == "" {
		return splitFrame{}, errors.New("empty split name or ID")
	}
	var err error
	if f.Index, err = splitNumber(fields[2]); err != nil {
		return splitFrame{}, fmt.Errorf("index: %w", err)
	}
	if f.Count, err = splitNumber(fields[3]); err != nil {
		return splitFrame{}, fmt.Errorf("count: %w", err)
	}
	if f.Index >= f.Count && (f.Count != 0 || f.Index != 0) {
		return splitFrame{}, fmt.Errorf("index %d out of a count of %d", f.Index, f.Count)
	}
	return f, nil
}

// splitNumber parses a decimal index or count in [0, maxSplitCount).
func splitNumber(s string) (int, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= maxSplitCount {
		return 0, fmt.Errorf("%q is not a number in [0, %d)", s, maxSplitCount)
	}
	return n, nil
}

// emptySplit reports whether a message with headers h is an empty split's
// marker: its innermost frame has count 0. It reads only the header's end:
// admit has checked that the header parses, and a frame's index and count
// are decimal numbers without leading zeros, so the last frame is
// "split:id:0:0" exactly when the value ends with ":0:0".
func emptySplit(h map[string]any) bool {
	s, ok := h[HeaderSplit].(string)
	return ok && strings.HasSuffix(s, ":0:0")
}
