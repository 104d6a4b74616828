package cli

import (
	"encoding/json"
	"fmt"

	dge "github.com/dgehq/dge/runtime"
)

// The output format of consume -envelope and local -envelope: one JSON
// line per result or failure record.

// failureLine is a failure record as consume -envelope and local -envelope
// print it.
type failureLine struct {
	Node      string         `json:"node"`
	RunID     string         `json:"run_id"`
	MessageID string         `json:"message_id"`
	Failed    dge.RunFailure `json:"failed"`
}

// resultLine is a result as consume -envelope and local -envelope print it.
type resultLine struct {
	Node      string          `json:"node"`
	RunID     string          `json:"run_id"`
	MessageID string          `json:"message_id"`
	Result    json.RawMessage `json:"result"`
}

// resultJSON returns r as one compact JSON line without its newline:
// {"node":...,"run_id":...,"message_id":...,"result":...}, or for a failure
// record {"node":...,"run_id":...,"message_id":...,"failed":{"node":...,
// "reason":...,"error":...}}. It fails only when r.Body is not JSON.
func resultJSON(r dge.Result) ([]byte, error) {
	if r.Failed != nil {
		return json.Marshal(failureLine{Node: r.Node, RunID: r.RunID, MessageID: r.MessageID, Failed: *r.Failed})
	}
	b, err := json.Marshal(resultLine{Node: r.Node, RunID: r.RunID, MessageID: r.MessageID, Result: r.Body})
	if err != nil {
		return nil, fmt.Errorf("result %s of run %s is not JSON: %w", r.MessageID, r.RunID, err)
	}
	return b, nil
}
