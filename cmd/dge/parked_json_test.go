package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// allJSON fails unless every line of out is a JSON object whose
// diagnostic summary contains want.
func allJSON(t *testing.T, what, out, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if out == "" || len(lines) == 0 {
		t.Fatalf("%s: no output, want a JSON line", what)
	}
	for _, l := range lines {
		var ev uiEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Diagnostic == nil {
			t.Fatalf("%s: line %q is no JSON diagnostic (%v)", what, l, err)
		}
		if !strings.Contains(ev.Diagnostic.Summary, want) {
			t.Errorf("%s: diagnostic %q, want it to say %q", what, ev.Diagnostic.Summary, want)
		}
	}
}

// TestParkedJSONErrors: under -json every output of dge parked is JSON
// (issue 25: an unknown subcommand and "no parked message matches" were
// text): an unknown subcommand, an unknown reason, and a list that finds
// nothing on a real broker.
func TestParkedJSONErrors(t *testing.T) {
	code, out, errs := cliRun(t, "", "parked", "lsit", "-json")
	if code != exitError || errs != "" {
		t.Fatalf("parked lsit -json: exit %d, stderr %q; want 1 and nothing on stderr", code, errs)
	}
	allJSON(t, "parked lsit -json", out, `unknown subcommand "lsit"`)

	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	code, out, errs = runIn(t, environ, "parked", "list", "-json", "-reason", "nope", dir)
	if code != exitError || errs != "" {
		t.Fatalf("parked list -json -reason nope: exit %d, stderr %q; want 1 and nothing on stderr", code, errs)
	}
	allJSON(t, "parked list -json -reason nope", out, `"nope" is no reason`)
	code, out, errs = runIn(t, environ, "parked", "list", "-json", "-node", "process.a", "-node", "terminate.out", dir)
	if code != exitOK || errs != "" {
		t.Fatalf("parked list -json with nothing parked: exit %d, stderr %q; want 0 and nothing on stderr", code, errs)
	}
	allJSON(t, "parked list -json with nothing parked", out, "no parked message matches (-node process.a, -node terminate.out)")
}
