package runtime

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/envelope"
	"github.com/google/go-cmp/cmp"
)

func TestBitset(t *testing.T) {
	for _, count := range []int{0, 1, 63, 64, 65, 200} {
		b := newBitset(count)
		var want []int
		for i := 0; i < count; i++ {
			if i%3 == 0 {
				b.set(i)
				continue
			}
			want = append(want, i)
		}
		if got := b.len(); got != count-len(want) {
			t.Errorf("count %d: len %d, want %d", count, got, count-len(want))
		}
		if got := b.missing(count, 1000); !slices.Equal(got, want) {
			t.Errorf("count %d: missing %v, want %v", count, got, want)
		}
		if got := b.missing(count, 2); len(want) > 2 && !slices.Equal(got, want[:2]) {
			t.Errorf("count %d: missing (limit 2) %v, want %v", count, got, want[:2])
		}
		back, err := bitsetOf(b.bytes(), count)
		if err != nil || !slices.Equal(back, b) {
			t.Errorf("count %d: round trip %v, %v; want %v", count, back, err, b)
		}
	}
	full := newBitset(130)
	for i := range 130 {
		full.set(i)
	}
	if m := full.missing(130, 10); len(m) != 0 {
		t.Errorf("full set: missing %v", m)
	}
}

func TestBitsetOfRejects(t *testing.T) {
	if _, err := bitsetOf(make([]byte, 8), 65); err == nil {
		t.Error("8 bytes for a count of 65 accepted")
	}
	p := newBitset(3).bytes()
	p[0] = 0x10 // index 4, past a count of 3
	if _, err := bitsetOf(p, 3); err == nil || !strings.Contains(err.Error(), "past the count") {
		t.Errorf("index past the count: %v, want an error", err)
	}
}

func TestVersionOrder(t *testing.T) {
	cases := []struct {
		a, b version
		less bool
	}{
		{version{1, 5}, version{1, 6}, true},
		{version{1, 9}, version{2, 1}, true}, // a later epoch wins whatever its seq
		{version{2, 1}, version{1, 9}, false},
		{version{1, 5}, version{1, 5}, false},
	}
	for _, c := range cases {
		if got := c.a.less(c.b); got != c.less {
			t.Errorf("%v.less(%v) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

func TestCheckpointCodec(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fold := &splitState{
		id: "s1", runID: "r1", split: "numbers", outer: "docs:D:1:3", count: 70, bits: newBitset(70),
		ver: version{3, 7}, firstSeen: seen, attempt: 2, redriven: 1,
		failed: &RunFailure{Node: "process.fib", Reason: "permanent", Error: "boom"}, acc: num{42}, traceParent: "00-x",
	}
	fold.bits.set(0)
	fold.bits.set(69)
	fold.have = 2
	list := &splitState{
		id: "s2", runID: "r2", split: "numbers", count: 3, bits: newBitset(3), ver: version{1, 1}, firstSeen: seen,
		items: map[int]json.RawMessage{2: json.RawMessage(`{"value":3}`)},
	}
	list.bits.set(2)
	list.have = 1
	for _, c := range []struct {
		st        *splitState
		decodeAcc func([]byte) (any, error)
	}{{fold, decodeJSON[num]}, {list, nil}} {
		j, err := encodeState(c.st)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(envelope.Checkpoint{Epoch: 3, States: []envelope.SplitState{j}})
		if err != nil {
			t.Fatal(err)
		}
		var back envelope.Checkpoint
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		got, err := decodeState(back.States[0], c.decodeAcc)
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		again, err := encodeState(got)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(j, again); diff != "" {
			t.Errorf("state %s round trip (-want +got):\n%s", c.st.id, diff)
		}
		if got.have != c.st.have || got.acc != c.st.acc {
			t.Errorf("state %s: have %d acc %v, want %d, %v", c.st.id, got.have, got.acc, c.st.have, c.st.acc)
		}
	}
}

func TestDecodeStateRejects(t *testing.T) {
	good, _ := encodeState(&splitState{id: "s", split: "numbers", count: 2, bits: newBitset(2), items: map[int]json.RawMessage{}})
	for name, edit := range map[string]func(j *envelope.SplitState){
		"no ID":           func(j *envelope.SplitState) { j.ID = "" },
		"negative count":  func(j *envelope.SplitState) { j.Count = -1 },
		"short index set": func(j *envelope.SplitState) { j.Have = nil },
		"item not in set": func(j *envelope.SplitState) { j.Items = map[int]json.RawMessage{1: json.RawMessage(`{}`)} },
		"item past count": func(j *envelope.SplitState) {
			j.Have[0] = 0x4
			j.Items = map[int]json.RawMessage{2: json.RawMessage(`{}`)}
		},
		"items and bits ≠": func(j *envelope.SplitState) { j.Have[0] = 0x1 },
	} {
		j := good
		j.Have = slices.Clone(good.Have)
		edit(&j)
		if _, err := decodeState(j, nil); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	bad := good
	bad.Acc = json.RawMessage(`"not a num"`)
	if _, err := decodeState(bad, decodeJSON[num]); err == nil {
		t.Error("an accumulator of the wrong type decoded")
	}
}
