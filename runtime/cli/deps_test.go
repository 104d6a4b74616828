package cli

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestNoGRPC keeps gRPC out of every generated program: package cli, which
// every program imports, and the packages it imports (the OTLP exporter's
// client among them) must not depend on google.golang.org/grpc,
// grpc-gateway or html/template, which the SDK's otlptracehttp brought
// (6.9 MB of the arith example's 24.2 MB; see package
// runtime/internal/otlp). It runs go list -deps, as a contributor would.
func TestNoGRPC(t *testing.T) {
	const self = "github.com/dgehq/dge/runtime/cli"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, self).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", self, err, out)
	}
	banned := func(p string) bool {
		return p == "google.golang.org/grpc" || strings.HasPrefix(p, "google.golang.org/grpc/") ||
			strings.HasPrefix(p, "github.com/grpc-ecosystem/") || p == "html/template"
	}
	seen := map[string]bool{}
	importers := map[string][]string{} // banned package -> the deps importing it
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		seen[f[0]] = true
		for _, imp := range f[1:] {
			if banned(imp) {
				importers[imp] = append(importers[imp], f[0])
			}
		}
	}
	if !seen[self] || !seen["go.opentelemetry.io/otel/sdk/trace"] || !seen["github.com/dgehq/dge/runtime/internal/otlp"] {
		t.Fatalf("go list -deps %s lists neither cli, the SDK nor the OTLP client; is its output right?\n%s", self, out)
	}
	// Report where the banned packages come in: those that a package
	// outside them imports.
	var entries []string
	n := 0
	for p := range seen {
		if !banned(p) {
			continue
		}
		n++
		var from []string
		for _, imp := range importers[p] {
			if !banned(imp) {
				from = append(from, imp)
			}
		}
		if len(from) > 0 {
			sort.Strings(from)
			entries = append(entries, fmt.Sprintf("%s (imported by %s)", p, strings.Join(from, ", ")))
		}
	}
	if n > 0 {
		sort.Strings(entries)
		t.Errorf("package cli depends on %d packages of gRPC, grpc-gateway and html/template, which every generated program would carry: export OTLP through runtime/internal/otlp, without gRPC. They come in through:\n%s",
			n, strings.Join(entries, "\n"))
	}
}
