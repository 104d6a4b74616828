package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/plan"
)

// uiFormatVersion is the version of the machine-readable UI: the JSON lines
// of apply -json and destroy -json, and the diagnostic lines every command
// prints with -json when it fails.
const uiFormatVersion = "1.0"

// uiEvent is one line of the machine-readable UI, shaped like Terraform's:
// every line has @level, @message, @module, @timestamp and a type, and the
// field its type names.
type uiEvent struct {
	Level     string `json:"@level"` // "info", "warn" or "error"
	Message   string `json:"@message"`
	Module    string `json:"@module"`
	Timestamp string `json:"@timestamp"`
	Type      string `json:"type"`

	// type "version"
	Dge string `json:"dge,omitempty"`
	UI  string `json:"ui,omitempty"`
	// type "planned_change"
	Change *uiChange `json:"change,omitempty"`
	// types "apply_start", "apply_progress", "apply_complete", "apply_errored"
	Hook *uiHook `json:"hook,omitempty"`
	// type "change_summary"
	Changes *uiSummary `json:"changes,omitempty"`
	// type "diagnostic"
	Diagnostic *jsonDiagnostic `json:"diagnostic,omitempty"`
}

// uiResource names the broker object of a change.
type uiResource struct {
	Addr string `json:"addr"`
	Kind string `json:"kind"`
}

// uiChange is a planned change.
type uiChange struct {
	Resource uiResource `json:"resource"`
	Action   string     `json:"action"`
	// ForcedBy names the attributes whose change forces a replace.
	ForcedBy []string `json:"forced_by,omitempty"`
}

// uiHook is the progress of one change. ElapsedSeconds is absent from
// apply_start.
type uiHook struct {
	Resource       uiResource `json:"resource"`
	Action         string     `json:"action"`
	ElapsedSeconds *int64     `json:"elapsed_seconds,omitempty"`
}

// uiSummary counts the changes of a plan (operation "plan") or those made
// by an apply or destroy (operation "apply" or "destroy").
type uiSummary struct {
	Add       int    `json:"add"`
	Change    int    `json:"change"`
	Remove    int    `json:"remove"`
	Operation string `json:"operation"`
	// KeptMessages and MovedMessages count the messages apply moved aside
	// and back (-keep-messages) and from renamed queues to their new ones.
	KeptMessages  int64 `json:"kept_messages,omitempty"`
	MovedMessages int64 `json:"moved_messages,omitempty"`
}

// jsonDiagnostic is a diagnostic as JSON, in validate -json's list and in
// the machine-readable UI's diagnostic lines.
type jsonDiagnostic struct {
	Severity string     `json:"severity"` // "error" or "warning"
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// hclDiagnostic returns d as JSON, with its source range when it has one.
func hclDiagnostic(d *hcl.Diagnostic) jsonDiagnostic {
	jd := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
	if d.Severity == hcl.DiagWarning {
		jd.Severity = "warning"
	}
	if r := d.Subject; r != nil {
		jd.Range = &jsonRange{
			Filename: r.Filename,
			Start:    jsonPos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
			End:      jsonPos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
		}
	}
	return jd
}

// planDiagnostic returns a plan's diagnostic (a policy that would govern
// the graph's queues) as JSON.
func planDiagnostic(d plan.Diagnostic) jsonDiagnostic {
	return jsonDiagnostic{Severity: string(d.Severity), Summary: d.Summary, Detail: d.Detail}
}

// errorDiagnostic returns an error message as a JSON diagnostic: its first
// line the summary, the rest the detail.
func errorDiagnostic(msg string) jsonDiagnostic {
	summary, detail, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return jsonDiagnostic{Severity: "error", Summary: summary, Detail: strings.TrimSpace(detail)}
}

// jsonUI writes the machine-readable UI, one JSON object a line. It is safe
// for concurrent use.
type jsonUI struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// jsonUI returns the writer of the machine-readable UI on stdout.
func (e *env) jsonUI() *jsonUI {
	if e.ui == nil {
		e.ui = &jsonUI{w: e.stdout, now: e.clock}
	}
	return e.ui
}

// clock returns the time now, from e.now when a test sets it.
func (e *env) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// emit completes ev with its module and timestamp and writes it as one
// line.
func (u *jsonUI) emit(ev uiEvent) {
	u.mu.Lock()
	defer u.mu.Unlock()
	ev.Module = "dge.ui"
	ev.Timestamp = u.now().Format("2006-01-02T15:04:05.000000Z07:00")
	enc := json.NewEncoder(u.w) // one line, ending in a newline
	enc.SetEscapeHTML(false)    // addresses hold "->"
	// Every field is a string, a number or a slice of them, so only the
	// write can fail; like the text output, a closed stdout is not reported.
	_ = enc.Encode(ev)
}

// version writes the first line of a stream: dge's and the UI's versions.
func (u *jsonUI) version() {
	u.emit(uiEvent{Level: "info", Message: "dge " + version, Type: "version", Dge: version, UI: uiFormatVersion})
}

// diagnostic writes d as a line of type "diagnostic".
func (u *jsonUI) diagnostic(d jsonDiagnostic) {
	level, prefix := "error", "Error: "
	if d.Severity == "warning" {
		level, prefix = "warn", "Warning: "
	}
	u.emit(uiEvent{Level: level, Message: prefix + d.Summary, Type: "diagnostic", Diagnostic: &d})
}

// plan writes p as the stream shows it before applying: its diagnostics,
// one planned_change line per change, then a change_summary of operation
// "plan".
func (u *jsonUI) plan(p *plan.Plan) {
	for _, d := range p.Diagnostics {
		u.diagnostic(planDiagnostic(d))
	}
	for _, c := range p.Changes {
		u.emit(uiEvent{Level: "info", Message: fmt.Sprintf("%s: Plan to %s", c.Address, c.Action), Type: "planned_change",
			Change: &uiChange{Resource: resourceOf(c), Action: string(c.Action), ForcedBy: c.ForcedBy}})
	}
	add, change, remove := p.Counts()
	u.summary(uiSummary{Add: add, Change: change, Remove: remove, Operation: "plan"})
}

// summary writes a change_summary line with the message dge prints as
// text.
func (u *jsonUI) summary(s uiSummary) {
	var msg string
	switch s.Operation {
	case "plan":
		msg = fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Remove)
	case "destroy":
		msg = fmt.Sprintf("Destroy complete! Resources: %d destroyed.", s.Remove)
	default:
		msg = fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", s.Add, s.Change, s.Remove)
	}
	u.emit(uiEvent{Level: "info", Message: msg, Type: "change_summary", Changes: &s})
}

// hook writes one progress line of change c: typ is apply_start (elapsed
// ignored), apply_progress, apply_complete or apply_errored.
func (u *jsonUI) hook(typ string, c plan.Change, elapsed time.Duration) {
	h := &uiHook{Resource: resourceOf(c), Action: string(c.Action)}
	secs := int64(elapsed / time.Second)
	words, ok := hookWords[c.Action]
	if !ok {
		words = [2]string{string(c.Action) + "...", string(c.Action)}
	}
	level, msg := "info", ""
	switch typ {
	case "apply_start":
		msg = c.Address + ": " + words[0]
	case "apply_progress":
		msg = fmt.Sprintf("%s: Still %s [%ds elapsed]", c.Address, strings.ToLower(words[0]), secs)
	case "apply_complete":
		msg = fmt.Sprintf("%s: %s complete after %ds", c.Address, words[1], secs)
	default:
		level, msg = "error", fmt.Sprintf("%s: %s errored after %ds", c.Address, words[1], secs)
	}
	if typ != "apply_start" {
		h.ElapsedSeconds = &secs
	}
	u.emit(uiEvent{Level: level, Message: msg, Type: typ, Hook: h})
}

// hookWords are Terraform's words for an action under way and done.
var hookWords = map[plan.Action][2]string{
	plan.Create:  {"Creating...", "Creation"},
	plan.Update:  {"Modifying...", "Modifications"},
	plan.Replace: {"Replacing...", "Replacement"},
	plan.Delete:  {"Destroying...", "Destruction"},
}

func resourceOf(c plan.Change) uiResource {
	return uiResource{Addr: c.Address, Kind: string(c.Kind)}
}
