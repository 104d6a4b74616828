package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/dgehq/dge/internal/gen"
)

// findGoMod finds the go.mod that applies to dir, like the go command: in
// dir or its nearest parent that has one. It returns the folder that holds
// it and the parsed file, or "" and nil when there is none.
func findGoMod(dir string) (root string, f *modfile.File, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	for d := abs; ; d = filepath.Dir(d) {
		name := filepath.Join(d, "go.mod")
		data, err := os.ReadFile(name)
		if err == nil {
			f, err := modfile.ParseLax(name, data, nil)
			if err != nil {
				return "", nil, err
			}
			return d, f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, err
		}
		if filepath.Dir(d) == d {
			return "", nil, nil
		}
	}
}

// addDge returns the commands, run in a module's folder, that make the
// module (whose go.mod is f) require this dge and put the runtime's
// dependencies in go.sum, so the runtime package loads even before any
// package of the module imports it (go mod tidy would drop the requirement
// then). Each works as typed:
//
//   - a published dge: go get of its runtime package at this version;
//   - a dge built from a source checkout, which has no published version
//     (go get would fail): a replace with the checkout, unless go.mod
//     replaces dge already, then go build -mod=mod of the runtime, which
//     adds the requirement through the replacement and the go.sum lines.
func addDge(f *modfile.File) []string {
	version, checkout, err := dgeSource()
	if err == nil && checkout == "" {
		return []string{fmt.Sprintf("go get %s@%s", gen.RuntimePath, version)}
	}
	var cmds []string
	if !replaces(f, dgeModule) {
		if checkout == "" {
			checkout = "/path/to/your/dge/checkout" // err says why it is unknown
		}
		cmds = append(cmds, fmt.Sprintf("go mod edit -replace=%s=%s", dgeModule, shellQuote(checkout)))
	}
	return append(cmds, "go build -mod=mod "+gen.RuntimePath)
}

func requires(f *modfile.File, mod string) bool {
	for _, r := range f.Require {
		if r.Mod.Path == mod {
			return true
		}
	}
	return false
}

func replaces(f *modfile.File, mod string) bool {
	if f == nil {
		return false
	}
	for _, r := range f.Replace {
		if r.Old.Path == mod {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell when it holds other characters
// than those of a plain path.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r == '@' || r == '=' || r == ':' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// genOptions returns the options of gen.Generate for the graph in dir:
// the go command runs there with e's environment, and a module that does
// not require dge is told the commands of addDge.
func (e *env) genOptions(dir string) gen.Options {
	_, f, _ := findGoMod(dir)
	return gen.Options{Dir: dir, Env: e.environ, AddDge: addDge(f)}
}
