package main

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/dgehq/dge/plan"
)

// version is dge's release, set at build time with
// -ldflags "-X main.version=v1.2.3"; "dev" otherwise.
var version = "dev"

// versionJSON is the JSON form of `dge version -json`: what the text form
// prints, plus the format_version of each JSON output dge writes, so a
// script can check it reads the forms it expects.
type versionJSON struct {
	Version        string            `json:"version"`
	Module         string            `json:"module,omitempty"`
	ModuleVersion  string            `json:"module_version,omitempty"`
	Revision       string            `json:"revision,omitempty"`
	Modified       bool              `json:"modified,omitempty"`
	GoVersion      string            `json:"go_version"`
	Platform       string            `json:"platform"`
	FormatVersions map[string]string `json:"format_versions"`
}

// buildVersion reads what dge knows of its own build.
func buildVersion() versionJSON {
	v := versionJSON{
		Version:   version,
		GoVersion: goruntime.Version(),
		Platform:  goruntime.GOOS + "/" + goruntime.GOARCH,
		FormatVersions: map[string]string{
			"plan":     plan.FormatVersion,
			"validate": validateFormatVersion,
			"status":   statusFormatVersion,
			"graph":    graphFormatVersion,
			"ui":       uiFormatVersion,
		},
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if mv := info.Main.Version; mv != "" && mv != "(devel)" && mv != version {
			v.Module, v.ModuleVersion = info.Main.Path, mv
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("version", "dge version [-json]", "Print the dge version, the module version it was built from, and the Go version.")
	e.addJSON(fs, "print the version as JSON, with the format_version of each JSON output (plan, validate, status, graph, and ui: the lines of apply -json and of JSON errors)")
	pos, code, done := e.parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.failf("version", "takes no arguments, got %q", pos)
	}
	v := buildVersion()
	if e.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return e.failf("version", "encode JSON: %v", err)
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "dge %s\n", v.Version)
	if v.ModuleVersion != "" {
		fmt.Fprintf(e.stdout, "module %s %s\n", v.Module, v.ModuleVersion)
	}
	if v.Revision != "" {
		modified := ""
		if v.Modified {
			modified = " (modified)"
		}
		fmt.Fprintf(e.stdout, "revision %s%s\n", v.Revision, modified)
	}
	fmt.Fprintf(e.stdout, "%s %s\n", v.GoVersion, v.Platform)
	return exitOK
}
