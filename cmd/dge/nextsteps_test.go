package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
)

// The tests here do what a new user does: type the commands dge prints,
// exactly as printed (its "Next:" steps, the fix of a diagnostic, "Build it
// with:"), dge commands run in-process through the CLI and everything else
// with exec, in a folder outside this repository. go.mod takes dge from
// this checkout (the test binary is a source build), the rest comes from
// the module cache and proxy.

// shell runs printed command lines as a POSIX shell would, for the forms
// dge prints: cmd && cmd, echo 'text' | cmd, cd DIR, quoted words and a
// trailing # comment. A node program run with "all" keeps running in the
// background until the test ends, as in a second terminal.
type shell struct {
	t       *testing.T
	dir     string
	environ []string
}

func newShell(t *testing.T, dir string, environ ...string) *shell {
	t.Helper()
	env := append(os.Environ(), environ...)
	return &shell{t: t, dir: dir, environ: env}
}

// steps returns the command lines of the block that starts with the line
// header in out: its lines indented by two spaces, up to the first other.
func steps(t *testing.T, out, header string) []string {
	t.Helper()
	_, block, ok := strings.Cut(out, header+"\n")
	if !ok {
		t.Fatalf("no %q in:\n%s", header, out)
	}
	var lines []string
	for _, line := range strings.Split(block, "\n") {
		cmd, ok := strings.CutPrefix(line, "  ")
		if !ok {
			break
		}
		lines = append(lines, cmd)
	}
	if len(lines) == 0 {
		t.Fatalf("no commands after %q in:\n%s", header, out)
	}
	return lines
}

// words splits a command line into words, honouring single and double
// quotes, and drops a # comment.
func words(t *testing.T, line string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// run runs one printed line and returns the stdout of its last command.
func (sh *shell) run(line string) string {
	sh.t.Helper()
	var out string
	for _, pipeline := range splitWords(words(sh.t, line), "&&") {
		stdin := ""
		stages := splitWords(pipeline, "|")
		for i, argv := range stages {
			if i < len(stages)-1 {
				if argv[0] != "echo" {
					sh.t.Fatalf("%q: only echo is piped in printed commands", line)
				}
				stdin = strings.Join(argv[1:], " ") + "\n"
				continue
			}
			out = sh.exec(line, argv, stdin)
		}
	}
	return out
}

func splitWords(ws []string, sep string) [][]string {
	var parts [][]string
	start := 0
	for i, w := range ws {
		if w == sep {
			parts = append(parts, ws[start:i])
			start = i + 1
		}
	}
	return append(parts, ws[start:])
}

// exec runs argv (from line) in the shell's folder.
func (sh *shell) exec(line string, argv []string, stdin string) string {
	t := sh.t
	t.Helper()
	switch argv[0] {
	case "cd":
		if filepath.IsAbs(argv[1]) {
			sh.dir = argv[1]
		} else {
			sh.dir = filepath.Join(sh.dir, argv[1])
		}
		return ""
	case "dge":
		code, out, errs := sh.dge(argv[1:]...)
		if code != 0 {
			t.Fatalf("%s (typed as printed): exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errs)
		}
		return out
	}
	if len(argv) > 1 && argv[len(argv)-1] == "all" { // every node, until the test ends
		sh.background(argv)
		return ""
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdin = sh.dir, sh.environ, strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (typed as printed, in %s): %v\nstdout:\n%s\nstderr:\n%s", line, sh.dir, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// dge runs dge in-process in the shell's folder. A user answers "yes" at
// apply's prompt; with no terminal here, -auto-approve stands for that.
func (sh *shell) dge(args ...string) (code int, stdout, stderr string) {
	sh.t.Helper()
	sh.t.Chdir(sh.dir)
	if len(args) > 0 && (args[0] == "apply" || args[0] == "destroy") {
		args = append([]string{args[0], "-auto-approve"}, args[1:]...)
	}
	return runIn(sh.t, sh.environ, args...)
}

func (sh *shell) background(argv []string) {
	t := sh.t
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = sh.dir, sh.environ
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s after SIGTERM: %v\n%s", strings.Join(argv, " "), err, logs.String())
		}
	})
}

// TestNextStepsNewProject follows dge init's next steps in a new project,
// up to a run of the graph on RabbitMQ (in the test's vhost, which
// DGE_VAR_vhost selects as a user's -var would).
func TestNextStepsNewProject(t *testing.T) {
	vh := brokertest.NewVhost(t)
	parent := t.TempDir()
	sh := newShell(t, parent, "DGE_VAR_vhost="+vh.Name, "DGE_MANAGEMENT_URL="+vh.ManagementURL, "DGE_AMQP_URL="+vh.AMQPURL)
	code, out, errs := sh.dge("init", "-module", "example.com/hello", "hello")
	if code != 0 {
		t.Fatalf("dge init: exit %d\n%s", code, errs)
	}
	var last string
	for _, line := range steps(t, out, "Next:") {
		last = sh.run(line)
	}
	if last != `{"text":"Hello, Ada!"}`+"\n" {
		t.Errorf("the last step printed %q, want the greeting", last)
	}
}

// graphFirst is a graph written before any Go code: its handlers import
// nothing of dge (no on_failure), so go mod tidy would drop dge from a
// go.mod that only requires it.
const graphFirst = `graph "shop" {
  handlers = "example.com/shop/behaviour"
}

start "orders" {}

process "tax" {
  from    = start.orders
  queue   = "orders"
  message = "Order"
  handler = "AddTax"
}

terminate "taxed" {
  from    = process.tax
  queue   = "taxed"
  message = "Taxed"
}
`

// TestNextStepsGraphFirst starts from a folder holding only a graph: dge
// generate points to dge init, whose next steps end with the program
// built.
func TestNextStepsGraphFirst(t *testing.T) {
	dir := writeTemp(t, map[string]string{"graph.dge.hcl": graphFirst})
	sh := newShell(t, dir)
	code, _, errs := sh.dge("generate")
	if code != 1 || !strings.Contains(errs, "No Go module") {
		t.Fatalf("dge generate without go.mod: exit %d, want 1 saying there is no module:\n%s", code, errs)
	}
	var out string
	for _, line := range steps(t, errs, "There is no go.mod in . or a folder above it, so the handlers package example.com/shop/behaviour cannot be loaded. Start the module with:") {
		out = sh.run(line)
	}
	if !strings.Contains(out, "Wrote go.mod (module example.com/shop, from the graph's handlers path") {
		t.Errorf("dge init does not say where the module path comes from:\n%s", out)
	}
	for _, line := range steps(t, out, "Next:") {
		sh.run(line)
	}
	if _, err := os.Stat(filepath.Join(dir, "shop")); err != nil {
		t.Errorf("the steps did not build the program: %v", err)
	}
}

// TestGenerateAdviceModuleWithoutDge follows the fix dge generate gives for
// a module that does not require dge, then its "Build it with:".
func TestGenerateAdviceModuleWithoutDge(t *testing.T) {
	dir := writeTemp(t, map[string]string{
		"go.mod":        "module example.com/shop\n\ngo 1.26\n",
		"graph.dge.hcl": graphFirst,
		"behaviour/behaviour.go": `package behaviour

import "context"

type Order struct{ Net int }

type Taxed struct{ Gross int }

func AddTax(ctx context.Context, in Order) (Taxed, error) { return Taxed{in.Net * 6 / 5}, nil }
`,
	})
	sh := newShell(t, dir)
	code, _, errs := sh.dge("generate")
	if code != 1 || !strings.Contains(errs, "Module does not require dge") {
		t.Fatalf("dge generate: exit %d, want 1 saying the module does not require dge:\n%s", code, errs)
	}
	for _, line := range steps(t, errs, "Add it with:") {
		sh.run(line)
	}
	code, out, errs := sh.dge("generate")
	if code != 0 {
		t.Fatalf("dge generate after the fix: exit %d\n%s", code, errs)
	}
	_, build, _ := strings.Cut(out, "Build it with: ")
	sh.run(strings.TrimSpace(build))
	if got := sh.run(`echo '{"Net":100}' | ./shop local`); got != `{"Gross":120}`+"\n" {
		t.Errorf("shop local printed %q", got)
	}
}
