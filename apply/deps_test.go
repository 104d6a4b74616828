package apply_test

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestImportsNoInternalPackage: apply is a public package whose Broker and
// Counter code outside this module implements, so neither apply nor any
// package it depends on (plan, config, ...) may import one of the module's
// internal packages: the management API and AMQP adapters live there and
// implement apply's interfaces, not the other way round. It runs go list
// -deps, as a contributor would.
func TestImportsNoInternalPackage(t *testing.T) {
	const (
		self     = "github.com/dgehq/dge/apply"
		internal = "github.com/dgehq/dge/internal/"
	)
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, self).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", self, err, out)
	}
	importers := map[string][]string{} // internal package -> the packages of apply's deps importing it
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		seen[f[0]] = true
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, internal) {
				importers[imp] = append(importers[imp], f[0])
			}
		}
	}
	if !seen[self] || !seen["github.com/dgehq/dge/plan"] {
		t.Fatalf("go list -deps %s lists neither apply nor plan; is its output right?\n%s", self, out)
	}
	var bad []string
	for imp := range importers {
		bad = append(bad, imp)
	}
	sort.Strings(bad)
	for _, imp := range bad {
		t.Errorf("apply depends on %s, imported by %s: apply and the packages it imports must not import internal packages (put the code in a public package, or keep it out of apply's dependencies)",
			imp, strings.Join(importers[imp], ", "))
	}
}
