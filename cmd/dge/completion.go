package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dgehq/dge/internal/parked"
)

// completeCommand is the hidden command the completion scripts call:
// `dge __complete WORD...` prints the candidates for the last WORD (the one
// under the cursor, possibly empty), one a line, the words before it being
// the command line after "dge".
const completeCommand = "__complete"

// bashCompletion is the script `dge completion bash` prints. It asks dge
// itself (the program the user typed, so ./dge works too) for candidates and
// falls back to file names when dge offers none (a PATH, a -var-file).
const bashCompletion = `# bash completion for dge. Load it with:
#   source <(dge completion bash)
# or save it as /etc/bash_completion.d/dge.
_dge() {
    local words=("${COMP_WORDS[@]:1:COMP_CWORD}")
    mapfile -t COMPREPLY < <("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null)
}
complete -o default -F _dge dge
`

// zshCompletion is the script `dge completion zsh` prints, asking dge for
// candidates as the bash one does.
const zshCompletion = `#compdef dge
# zsh completion for dge. Load it with:
#   source <(dge completion zsh)
# or save it as _dge in a folder of $fpath.
_dge() {
    local -a candidates
    candidates=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    if (( ${#candidates} )); then
        compadd -Q -- $candidates
    else
        _files
    fi
}
if [[ $funcstack[1] = _dge ]]; then
    _dge "$@"
else
    compdef _dge dge
fi
`

func runCompletion(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("completion", "dge completion bash|zsh", `
Print a completion script for bash or zsh. It completes commands, flags,
parked subcommands, -format values, and the node addresses of the graph in
PATH (the current folder by default) after -node:

  source <(dge completion bash)     # in ~/.bashrc
  source <(dge completion zsh)      # in ~/.zshrc, after compinit

The script runs dge itself to find the candidates.`)
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "dge completion: give one shell, bash or zsh; got %d arguments\n", len(pos))
		return exitError
	}
	switch pos[0] {
	case "bash":
		fmt.Fprint(e.stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(e.stdout, zshCompletion)
	default:
		fmt.Fprintf(e.stderr, "dge completion: unknown shell %q; give bash or zsh\n", pos[0])
		return exitError
	}
	return exitOK
}

// runComplete prints the candidates for the last of words, one a line.
// It never fails: a line it cannot make sense of has no candidates, and
// the shell falls back to file names.
func (e *env) runComplete(ctx context.Context, words []string) int {
	for _, c := range e.completions(ctx, words) {
		fmt.Fprintln(e.stdout, c)
	}
	return exitOK
}

// completions returns the candidates for the last of words (the command
// line after "dge"), in the order the shell should show them.
func (e *env) completions(ctx context.Context, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	if len(words) == 1 {
		names := []string{"help"}
		for _, c := range commands {
			names = append(names, c.name)
		}
		return withPrefix(names, cur)
	}
	name, rest := words[0], words[1:]
	switch name {
	case "completion":
		return withPrefix([]string{"bash", "zsh"}, cur)
	case "parked":
		if len(rest) == 1 {
			return withPrefix([]string{"list", "redrive", "purge"}, cur)
		}
		name, rest = "parked "+rest[0], rest[1:]
	}
	fs := e.commandFlags(ctx, name)
	if fs == nil {
		return nil
	}
	// bash splits -node=pro into "-node", "=", "pro".
	before := rest[:len(rest)-1]
	if cur == "=" {
		cur, before = "", rest[:len(rest)-1]
	} else if len(before) > 0 && before[len(before)-1] == "=" {
		before = before[:len(before)-1]
	}
	if len(before) > 0 {
		if f := valueFlag(fs, before[len(before)-1]); f != nil {
			return e.flagValues(fs, name, f.Name, before[:len(before)-1], cur)
		}
	}
	// zsh (and bash without "=" in COMP_WORDBREAKS) passes -node=pro whole.
	if flagWord, value, ok := strings.Cut(cur, "="); ok && strings.HasPrefix(flagWord, "-") {
		f := valueFlag(fs, flagWord)
		if f == nil {
			return nil
		}
		var out []string
		for _, v := range e.flagValues(fs, name, f.Name, before, value) {
			out = append(out, flagWord+"="+v)
		}
		return out
	}
	if strings.HasPrefix(cur, "-") {
		var flags []string
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, "-"+f.Name) })
		return withPrefix(flags, cur)
	}
	return nil
}

// commandFlags returns the flag set the command name ("plan", "parked
// list") defines, by running it with -h and its output discarded: every
// command registers its flags and then stops at -h, before it reads a
// graph or dials a broker.
func (e *env) commandFlags(ctx context.Context, name string) *flag.FlagSet {
	var fs *flag.FlagSet
	quiet := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, environ: e.environ,
		onFlagSet: func(f *flag.FlagSet) { fs = f }}
	args := append(strings.Fields(name), "-h")
	for _, c := range commands {
		if c.name == args[0] {
			c.run(ctx, quiet, args[1:])
			return fs
		}
	}
	return nil
}

// valueFlag returns the flag word names ("-node", "--node") when it takes a
// separate value: not a bool flag, and not already given as -name=value.
func valueFlag(fs *flag.FlagSet, word string) *flag.Flag {
	name := strings.TrimPrefix(strings.TrimPrefix(word, "-"), "-")
	if name == word || strings.Contains(name, "=") {
		return nil
	}
	f := fs.Lookup(name)
	if f == nil {
		return nil
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return nil
	}
	return f
}

// flagValues returns the candidates for the value of flag name of command
// cmd: the graph's node addresses for -node, the formats for graph -format.
// before holds the words typed before the flag, which give the PATH and
// the -var values the graph is loaded with.
func (e *env) flagValues(fs *flag.FlagSet, cmd, name string, before []string, cur string) []string {
	switch {
	case name == "format" && cmd == "graph":
		return withPrefix([]string{"dot", "mermaid", "json"}, cur)
	case name != "node":
		return nil
	}
	pos, _, done := parseArgs(fs, before)
	path := "."
	if !done && len(pos) > 0 {
		path = pos[0]
	}
	var vars varFlags
	if f := fs.Lookup("var"); f != nil {
		if v, ok := f.Value.(varValue); ok {
			vars = *v.v
		}
	}
	quiet := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, environ: e.environ}
	g, _, diags := quiet.load(path, vars)
	if g == nil || diags.HasErrors() {
		return nil
	}
	var addrs []string
	if strings.HasPrefix(cmd, "parked ") {
		// Only nodes with a queue have a dead queue to read (no start).
		edges, _ := parked.Edges(g, nil)
		for _, pe := range edges {
			addrs = append(addrs, pe.Node)
		}
	} else {
		for _, n := range g.Nodes {
			addrs = append(addrs, n.Addr())
		}
	}
	sort.Strings(addrs)
	return withPrefix(addrs, cur)
}

// withPrefix returns the words that start with prefix.
func withPrefix(words []string, prefix string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			out = append(out, w)
		}
	}
	return out
}
