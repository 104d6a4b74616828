package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestComplete checks the candidates of the hidden __complete command the
// scripts call: commands, subcommands, flags, flag values and the node
// addresses of examples/arith.
func TestComplete(t *testing.T) {
	// Nodes with a queue: start has none, so no dead queue to list (issue
	// 25: completion offered start.start).
	queued := "aggregate.multiply fan_out.duplicate_input poll.rest_call process.double process.square terminate.result"
	for _, tt := range []struct {
		words []string
		want  string // candidates, space-separated
	}{
		{[]string{""}, "help init validate fmt graph plan show apply destroy status parked console generate run deploy version completion"},
		{[]string{"in"}, "init"},
		{[]string{"init", "-"}, "-module"},
		{[]string{"pl"}, "plan"},
		{[]string{"p"}, "plan parked"},
		{[]string{"nope"}, ""},
		{[]string{"completion", ""}, "bash zsh"},
		{[]string{"parked", "re"}, "redrive"},
		{[]string{"console", "-"}, "-addr -allow-actions -trace-url -var -var-file"},
		{[]string{"validate", "-"}, "-json -no-color -var -var-file"},
		{[]string{"apply", "-a"}, "-allow-message-loss -auto-approve"},
		{[]string{"parked", "list", "-n"}, "-node"},
		{[]string{"graph", "-format", ""}, "dot mermaid json"},
		{[]string{"graph", "-status", "-format", "m"}, "mermaid"},
		{[]string{"graph", "-format", "=", "j"}, "json"},
		{[]string{"parked", "list", arithDir, "-node", ""}, queued},
		{[]string{"parked", "redrive", arithDir, "-node", "pro"}, "process.double process.square"},
		{[]string{"parked", "purge", "-var", "vhost=/x", arithDir, "--node", "a"}, "aggregate.multiply"},
		{[]string{"parked", "list", arithDir, "-node", "="}, queued},
		{[]string{"parked", "list", arithDir, "-node", "=", "t"}, "terminate.result"},
		{[]string{"parked", "list", arithDir, "-node=pro"}, "-node=process.double -node=process.square"},
		{[]string{"parked", "list", arithDir, "-node", "s"}, ""},
		// -node is repeatable: the second takes a node too.
		{[]string{"parked", "redrive", arithDir, "-node", "process.double", "-node", "process.s"}, "process.square"},
		{[]string{"graph", "--format=d"}, "--format=dot"},
		{[]string{"graph", "-status=t"}, ""},
		// A bool flag takes no value: the next word is a flag or a PATH.
		{[]string{"validate", "-json", ""}, ""},
		// A graph that does not load has no nodes to offer.
		{[]string{"parked", "list", "-var", "undeclared=1", arithDir, "-node", ""}, ""},
		{[]string{"parked", "list", "testdata/no-such-folder", "-node", ""}, ""},
		// An unknown flag or command has no candidates; the shell completes files.
		{[]string{"plan", "-bogus", ""}, ""},
		{[]string{"bogus", "-"}, ""},
	} {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			code, stdout, stderr := cliRun(t, "", append([]string{"__complete"}, tt.words...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
			}
			if got := strings.Join(strings.Fields(stdout), " "); got != tt.want {
				t.Errorf("candidates %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCompletionScripts checks the scripts against golden files and bad
// arguments.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		code, stdout, stderr := cliRun(t, "", "completion", shell)
		if code != 0 || stderr != "" {
			t.Fatalf("completion %s: exit %d, stderr %q", shell, code, stderr)
		}
		checkGolden(t, "completion/dge."+shell, []byte(stdout))
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"completion"}, "give one shell"},
		{[]string{"completion", "bash", "zsh"}, "give one shell"},
		{[]string{"completion", "fish"}, `unknown shell "fish"`},
	} {
		code, stdout, stderr := cliRun(t, "", tt.args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1 and %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
}

// TestCompletionBash sources the bash script into a real bash, with a dge
// built from this package first on PATH, and runs its completion function
// as bash would on TAB: COMP_WORDS and COMP_CWORD set, COMPREPLY read back.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed for this test: %v", err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "dge"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, script, _ := cliRun(t, "", "completion", "bash")
	scriptPath := filepath.Join(dir, "dge.bash")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", scriptPath).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	arith, err := filepath.Abs(arithDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		dir   string // the folder bash runs in
		words string // a bash array body for COMP_WORDS; COMP_CWORD is its last index
		want  string
	}{
		{"command", dir, `dge pl`, "plan"},
		{"flag", dir, `dge graph -st`, "-status"},
		{"node of the graph in the current folder", arith, `dge parked list -node pro`, "process.double process.square"},
		{"node after -node=", arith, `dge parked redrive -node = ag`, "aggregate.multiply"},
		{"empty current word", arith, `dge graph -format ''`, "dot mermaid json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prog := `source "$1" || exit 1
complete -p dge >/dev/null || { echo "no completion registered for dge" >&2; exit 1; }
COMP_WORDS=(` + tt.words + `)
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_dge
echo "${COMPREPLY[*]}"`
			cmd := exec.Command(bash, "-c", prog, "bash", scriptPath)
			cmd.Dir = tt.dir
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("COMPREPLY %q, want %q", got, tt.want)
			}
		})
	}
}
