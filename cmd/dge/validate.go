package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/dgehq/dge/config"
)

func runValidate(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("validate", "dge validate [flags] [PATH]", `
Check the graph in PATH (a folder of *.dge.hcl files, or one file; default
the current folder): syntax, references, cycles, message types, names and
durations. Problems are printed with their file:line:col and exit status 1.`)
	var vars varFlags
	vars.register(fs)
	e.addJSON(fs, "print the result as JSON on stdout (exit status still 1 when invalid)")
	e.addNoColor(fs)
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	path, ok := e.pathArg(fs, pos)
	if !ok {
		return exitError
	}

	g, files, diags := e.load(path, vars)
	if e.json {
		return e.validateJSON(diags)
	}
	e.printDiags(files, diags)
	if diags.HasErrors() || g == nil {
		return exitError
	}
	fmt.Fprintf(e.stdout, "Success! The graph %q is valid%s.\n", g.Name, warningSuffix(diags))
	fmt.Fprintln(e.stdout, countLine(g))
	return exitOK
}

// warningSuffix is ", with N warning(s)" when diags holds warnings.
func warningSuffix(diags hcl.Diagnostics) string {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			n++
		}
	}
	switch n {
	case 0:
		return ""
	case 1:
		return ", with 1 warning"
	default:
		return fmt.Sprintf(", with %d warnings", n)
	}
}

// countLine summarises the graph's size and what it needs on the broker
// (docs/design.md, "The topology a graph needs": three exchanges at most;
// per edge a work, retry and dead queue; a delay queue per poll node).
func countLine(g *config.Graph) string {
	edges, queues, exchanges := 0, 0, 2
	for _, n := range g.Nodes {
		if n.Edge == nil {
			continue
		}
		edges++
		queues += 3
		if n.Kind == config.KindPoll {
			queues++
		}
	}
	if g.HasPoll() {
		exchanges++
	}
	return fmt.Sprintf("%s, %s: %s and %s on the broker.",
		config.Plural(len(g.Nodes), "node"), config.Plural(edges, "edge queue"), config.Plural(queues, "queue"), config.Plural(exchanges, "exchange"))
}

// validateFormatVersion is the format_version of validate -json.
const validateFormatVersion = "1.0"

// validateOutput is the JSON form of `dge validate -json`, shaped like
// Terraform's.
type validateOutput struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

func (e *env) validateJSON(diags hcl.Diagnostics) int {
	out := validateOutput{FormatVersion: validateFormatVersion, Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		jd := hclDiagnostic(d)
		if jd.Severity == "warning" {
			out.WarningCount++
		} else {
			out.ErrorCount++
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	out.Valid = out.ErrorCount == 0
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(e.stderr, "dge validate: write JSON: %v\n", err)
		return exitError
	}
	if !out.Valid {
		return exitError
	}
	return exitOK
}
