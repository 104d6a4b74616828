package runtime

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/dgehq/dge/envelope"
)

// A gather's state of one split, what its checkpoints carry, and the
// messages of Q.state that hold them (see gather.go).

// bitset is the set of a split's indexes a gather holds.
type bitset []uint64

func newBitset(count int) bitset { return make(bitset, (count+63)/64) }

func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }

func (b bitset) set(i int) { b[i/64] |= 1 << (uint(i) % 64) }

// len returns the number of indexes in b.
func (b bitset) len() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// missing returns the first (at most limit) indexes below count not in b.
func (b bitset) missing(count, limit int) []int {
	var out []int
	for i := 0; i < count && len(out) < limit; i++ {
		if b[i/64] == ^uint64(0) && i%64 == 0 && i+64 <= count {
			i += 63
			continue
		}
		if !b.has(i) {
			out = append(out, i)
		}
	}
	return out
}

// bytes encodes b little-endian, 8 bytes a word.
func (b bitset) bytes() []byte {
	out := make([]byte, 8*len(b))
	for i, w := range b {
		for j := range 8 {
			out[8*i+j] = byte(w >> (8 * j))
		}
	}
	return out
}

// bitsetOf decodes what bytes wrote for a split of count indexes.
func bitsetOf(p []byte, count int) (bitset, error) {
	b := newBitset(count)
	if len(p) != 8*len(b) {
		return nil, fmt.Errorf("index set of %d bytes for a count of %d, want %d", len(p), count, 8*len(b))
	}
	for i := range b {
		for j := range 8 {
			b[i] |= uint64(p[8*i+j]) << (8 * j)
		}
	}
	if r := count % 64; r != 0 && b[len(b)-1]>>uint(r) != 0 {
		return nil, fmt.Errorf("index set holds indexes past the count of %d", count)
	}
	return b, nil
}

// version orders the versions of one split's state: a state with a higher
// epoch (the active instance that wrote it) wins, then a higher seq. Each
// active instance takes an epoch above every epoch it read, so a version
// written by a dead predecessor never wins over one written after it.
type version struct {
	epoch, seq uint64
}

func (v version) less(o version) bool {
	return v.epoch < o.epoch || (v.epoch == o.epoch && v.seq < o.seq)
}

// splitState is a gather's state of one split.
type splitState struct {
	id, runID, split string
	outer            string // the frames around the split (x-dge-split of the output), "" for none
	count, have      int
	bits             bitset
	ver              version
	firstSeen        time.Time
	attempt          int // of the final call (list form), or the highest of its items
	redriven         int // items that came back through dge parked redrive
	failed           *RunFailure
	acc              any                     // fold form
	items            map[int]json.RawMessage // list form
	traceParent      string                  // the first item's trace context, for the output
	traceState       string

	// Not checkpointed.
	links  []string  // the trace contexts of the first items, at most maxGatherLinks
	msg    *stateMsg // the held message of Q.state holding its current version; nil: none yet
	dirty  bool      // changed since its last checkpoint
	firing bool      // complete: its output is being made or published
}

// complete reports whether every index is in.
func (st *splitState) complete() bool { return st.have == st.count }

// frames returns the frames of an item of the split (index 0), for the
// parked copy of the state.
func (st *splitState) frames() string {
	f := splitFrame{Split: st.split, ID: st.id, Count: st.count}.String()
	if st.outer == "" {
		return f
	}
	return st.outer + ";" + f
}

// missingText says which indexes a state lacks: the first few.
func (st *splitState) missingText() string {
	miss := st.bits.missing(st.count, 10)
	s := make([]string, len(miss))
	for i, m := range miss {
		s[i] = strconv.Itoa(m)
	}
	t := strings.Join(s, ", ")
	if st.count-st.have > len(miss) {
		t += ", ..."
	}
	return t
}

// encodeState returns st as a checkpoint carries it.
func encodeState(st *splitState) (envelope.SplitState, error) {
	j := envelope.SplitState{
		ID: st.id, RunID: st.runID, Split: st.split, Outer: st.outer, Count: st.count, Have: st.bits.bytes(),
		Epoch: st.ver.epoch, Seq: st.ver.seq, FirstSeen: st.firstSeen, Attempt: st.attempt, Redriven: st.redriven,
		Failed: (*envelope.Failure)(st.failed), Items: st.items, TraceParent: st.traceParent, TraceState: st.traceState,
	}
	if st.items == nil {
		acc, err := json.Marshal(st.acc)
		if err != nil {
			return envelope.SplitState{}, fmt.Errorf("encode the accumulator %T of split %s: %w", st.acc, st.id, err)
		}
		j.Acc = acc
	}
	return j, nil
}

// decodeState reads a state of a checkpoint: decodeAcc reads the
// accumulator (nil: the list form, whose items stay JSON).
func decodeState(j envelope.SplitState, decodeAcc func([]byte) (any, error)) (*splitState, error) {
	if j.ID == "" || j.Split == "" || j.Count < 0 || j.Count >= maxSplitCount {
		return nil, fmt.Errorf("state without a split ID or name, or with a count of %d", j.Count)
	}
	b, err := bitsetOf(j.Have, j.Count)
	if err != nil {
		return nil, fmt.Errorf("state of split %s: %w", j.ID, err)
	}
	st := &splitState{
		id: j.ID, runID: j.RunID, split: j.Split, outer: j.Outer, count: j.Count, bits: b, have: b.len(),
		ver: version{j.Epoch, j.Seq}, firstSeen: j.FirstSeen, attempt: j.Attempt, redriven: j.Redriven,
		failed: (*RunFailure)(j.Failed), traceParent: j.TraceParent, traceState: j.TraceState,
	}
	if decodeAcc == nil {
		st.items = j.Items
		if st.items == nil {
			st.items = map[int]json.RawMessage{}
		}
		if len(st.items) != st.have {
			return nil, fmt.Errorf("state of split %s holds %d items for %d indexes", j.ID, len(st.items), st.have)
		}
		for i := range st.items {
			if i < 0 || i >= j.Count || !b.has(i) {
				return nil, fmt.Errorf("state of split %s holds item %d, not in its index set", j.ID, i)
			}
		}
		return st, nil
	}
	if st.acc, err = decodeAcc(j.Acc); err != nil {
		return nil, fmt.Errorf("state of split %s: accumulator: %w", j.ID, err)
	}
	return st, nil
}

// stateMsg is a message of Q.state the active instance holds (delivered,
// not acknowledged): its token, or a checkpoint, holding live states (the
// current version of an open split). It is acknowledged once it holds none,
// after the publish that made that so is confirmed.
type stateMsg struct {
	id    string
	tag   uint64 // 0 until it is delivered
	live  int
	token bool         // never acknowledged while the instance runs
	after Confirmation // the publish that superseded its last live state; nil: none
	seen  time.Time    // when it was delivered (compaction rewrites the oldest first)
}
