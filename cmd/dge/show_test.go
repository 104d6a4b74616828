package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// TestShowPrintsWhatPlanPrinted saves a plan and checks that dge show
// prints the same text and dge show -json the same JSON as dge plan did,
// after the broker's vhost has gone (show never contacts the broker).
func TestShowPrintsWhatPlanPrinted(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	planFile := filepath.Join(t.TempDir(), "c.plan")

	code, planText, errs := runIn(t, environ, "plan", "-out", planFile, dir)
	if code != 0 {
		t.Fatalf("plan -out: exit %d: %s", code, errs)
	}
	code, planJSON, errs := runIn(t, environ, "plan", "-json", dir)
	if code != 0 {
		t.Fatalf("plan -json: exit %d: %s", code, errs)
	}
	trailer := "\nSaved the plan to: " + planFile + "\n\nTo perform exactly these actions, run:\n    dge apply " + planFile + "\n"
	wantText, ok := strings.CutSuffix(planText, trailer)
	if !ok {
		t.Fatalf("plan -out output does not end with the saved-plan note:\n%s", planText)
	}

	// No broker: a management URL nothing listens on.
	offline := []string{"DGE_MANAGEMENT_URL=http://127.0.0.1:1", "DGE_AMQP_URL=amqp://127.0.0.1:1/"}
	code, out, errs := runIn(t, offline, "show", planFile)
	if code != 0 || out != wantText {
		t.Fatalf("show: exit %d, stderr %q\ngot:\n%s\nwant (what plan printed):\n%s", code, errs, out, wantText)
	}
	code, out, errs = runIn(t, offline, "show", "-json", planFile)
	if code != 0 || out != planJSON {
		t.Fatalf("show -json: exit %d, stderr %q\ngot:\n%s\nwant (what plan -json printed):\n%s", code, errs, out, planJSON)
	}
}

// TestShowRefusesBadFiles checks that show of a file that is not a saved
// plan, or of a plan of another format_version, fails with a message that
// says what is wrong and what to do, and prints nothing on stdout.
func TestShowRefusesBadFiles(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	tmp := t.TempDir()
	planFile := filepath.Join(tmp, "c.plan")
	if code, _, errs := runIn(t, environ, "plan", "-out", planFile, dir); code != 0 {
		t.Fatalf("plan -out: exit %d: %s", code, errs)
	}
	saved, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(saved), `"format_version": "1.0"`, `"format_version": "0.9"`, 1)
	if body == string(saved) {
		t.Fatalf("saved plan has no format_version 1.0:\n%s", saved)
	}
	write := func(name, content string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	otherFormat := write("other-format.plan", body)
	otherDge := strings.Replace(string(saved), `"dge_version": "`+version+`"`, `"dge_version": "v0.0.1"`, 1)
	if otherDge == string(saved) {
		t.Fatalf("saved plan has no dge_version %q:\n%s", version, saved)
	}
	otherVersion := write("other-version.plan", otherDge)
	hcl := filepath.Join(dir, "graph.dge.hcl")
	notJSON := write("notes.txt", "not a plan\n")
	otherJSON := write("other.json", `{"name": "x"}`)

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"graph file", []string{"show", hcl}, []string{"is it a file written by dge plan -out?"}},
		{"text file", []string{"show", notJSON}, []string{"is it a file written by dge plan -out?"}},
		{"other JSON", []string{"show", "-json", otherJSON}, []string{"is it a file written by dge plan -out?"}},
		{"other format_version", []string{"show", otherFormat}, []string{`format_version is "0.9"`, `this dge reads "1.0"`, "run dge plan again"}},
		{"other format_version -json", []string{"show", "-json", otherFormat}, []string{`format_version is "0.9"`, "run dge plan again"}},
		{"other dge version", []string{"show", otherVersion}, []string{"made by dge v0.0.1", "this is dge " + version, "run dge plan again"}},
		{"missing file", []string{"show", filepath.Join(tmp, "absent.plan")}, []string{"open the saved plan", "absent.plan"}},
		{"no argument", []string{"show"}, []string{"want exactly one PLANFILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runIn(t, nil, tc.args...)
			if slices.Contains(tc.args, "-json") {
				// The error is a JSON diagnostic on stdout instead.
				if code != 1 || errs != "" {
					t.Fatalf("exit %d, stderr %q; want exit 1 and nothing on stderr (stdout %q)", code, errs, out)
				}
				_, events := uiLines(t, out)
				if len(events) != 1 || events[0]["type"] != "diagnostic" {
					t.Fatalf("stdout %q; want one diagnostic line", out)
				}
				errs = "dge show: " + events[0]["diagnostic"].(map[string]any)["summary"].(string)
			} else if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q; want exit 1 and nothing on stdout (stderr %q)", code, out, errs)
			}
			if !strings.HasPrefix(errs, "dge show: ") {
				t.Errorf("stderr %q does not start with dge show:", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
}

// TestPlanDestroyCLI checks that plan -destroy previews what destroy would
// remove (exit 2 with -detailed-exitcode, every object listed as a
// destroy, nothing changed), that its saved plan shows, applies and removes
// the graph's objects, and that a stale one is refused.
func TestPlanDestroyCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")

	code, out, errs := runIn(t, environ, "plan", "-destroy", "-detailed-exitcode", dir)
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan -destroy of an empty vhost: exit %d, want 0 and No changes.\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, out, errs = runIn(t, environ, "plan", "-destroy", "-detailed-exitcode", dir)
	if code != 2 {
		t.Fatalf("plan -destroy of an applied graph: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// The whole preview, with the test's random vhost name replaced.
	checkGolden(t, "plan/destroy.txt", []byte(strings.ReplaceAll(out, vh.Name, "VHOST")))

	code, out, errs = runIn(t, environ, "plan", "-destroy", "-json", "-detailed-exitcode", dir)
	if code != 2 || !strings.Contains(out, `"destroy": true`) || strings.Contains(out, `"action": "create"`) {
		t.Fatalf("plan -destroy -json: exit %d, want 2 and a destroy plan\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	tmp := t.TempDir()
	planFile := filepath.Join(tmp, "destroy.plan")
	stale := filepath.Join(tmp, "stale.plan")
	for _, f := range []string{planFile, stale} {
		if code, out, errs := runIn(t, environ, "plan", "-destroy", "-out", f, dir); code != 0 || !strings.Contains(out, "dge apply "+f) {
			t.Fatalf("plan -destroy -out: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	}
	code, out, errs = runIn(t, nil, "show", planFile)
	if code != 0 || !strings.Contains(out, "16 to destroy.") {
		t.Fatalf("show of a destroy plan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, out, errs = runIn(t, environ, "apply", planFile)
	if code != 0 || !strings.Contains(out, "Destroy complete! Resources: 16 destroyed.") {
		t.Fatalf("apply of a saved destroy plan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runIn(t, environ, "plan", "-destroy", "-detailed-exitcode", dir)
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan -destroy after the saved destroy: exit %d, want 0 (nothing left)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, errs = runIn(t, environ, "plan", "-detailed-exitcode", dir)
	if code != 2 || !strings.Contains(out, "16 to add") {
		t.Fatalf("plan after the saved destroy: exit %d, want 2 and 16 to add\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, _, errs = runIn(t, environ, "apply", stale)
	if code != 1 || !strings.Contains(errs, "run dge plan again") {
		t.Fatalf("apply of a stale destroy plan: exit %d, stderr %q; want a refusal saying to run dge plan again", code, errs)
	}
}

// TestApplySavedDestroyPlanKeepsMessages checks that a saved destroy plan
// obeys dge destroy's safety rule: a queue holding a message is not deleted
// unless apply is given -allow-message-loss.
func TestApplySavedDestroyPlanKeepsMessages(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	ch, err := vh.Dial(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "out", true, false, amqpMsg())
	if err != nil {
		t.Fatal(err)
	}
	if !dc.Wait() {
		t.Fatal("the broker did not confirm the message")
	}
	planFile := filepath.Join(t.TempDir(), "destroy.plan")
	code, out, errs := runIn(t, environ, "plan", "-destroy", "-out", planFile, dir)
	if code != 0 || !strings.Contains(out, "16 to destroy.") {
		t.Fatalf("plan -destroy -out: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, _, errs = runIn(t, environ, "apply", planFile)
	if code != 1 || !strings.Contains(errs, "queue out: it holds 1 message") || !strings.Contains(errs, "-allow-message-loss") {
		t.Fatalf("apply of a saved destroy plan with a message in out: exit %d, stderr %q; want a refusal naming -allow-message-loss", code, errs)
	}
	code, out, errs = runIn(t, environ, "apply", "-allow-message-loss", planFile)
	if code != 0 || !strings.Contains(out, "Destroy complete!") {
		t.Fatalf("apply -allow-message-loss of the saved destroy plan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, out, errs := runIn(t, environ, "plan", "-destroy", "-detailed-exitcode", dir); code != 0 {
		t.Fatalf("plan -destroy after the destroy: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}
