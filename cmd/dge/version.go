package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/dgehq/dge/internal/status"
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
			"status":   status.FormatVersion,
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

// dgeModule is the module path of dge, which a user's module requires.
const dgeModule = "github.com/dgehq/dge"

// develVersion is the version a module requires of a module it replaces
// with a local folder, as go mod edit writes it.
const develVersion = "v0.0.0-00010101000000-000000000000"

// dgeSource says where a new project's dge comes from. A dge installed
// from a published version (go install github.com/dgehq/dge/cmd/dge@v1.2.3)
// has that module version and no VCS stamp: the project requires it, and
// checkout is "". A dge built from a source checkout (go build, go test;
// its version is "(devel)" or it carries the checkout's VCS stamp) has no
// published version to require: the project requires develVersion and
// replaces dge with checkout, the folder of the go.mod this source file
// belongs to, found from the source position the compiler recorded. When
// that folder cannot be found (a build with -trimpath, or the checkout
// moved), err says so and the project needs a replace written by hand.
func dgeSource() (version, checkout string, err error) {
	if info, ok := debug.ReadBuildInfo(); ok {
		mod := &info.Main
		if mod.Path != dgeModule {
			for _, d := range info.Deps {
				if d.Path == dgeModule {
					mod = d
				}
			}
		}
		stamped := false
		for _, s := range info.Settings {
			stamped = stamped || s.Key == "vcs.revision"
		}
		if mod.Path == dgeModule && mod.Replace == nil && !stamped &&
			mod.Version != "" && mod.Version != "(devel)" && !strings.Contains(mod.Version, "+dirty") {
			return mod.Version, "", nil
		}
	}
	_, file, _, ok := goruntime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return develVersion, "", fmt.Errorf("this dge was built from source (not a published version) without a record of where that source is (built with -trimpath?)")
	}
	dir := filepath.Dir(filepath.Dir(filepath.Dir(file))) // <checkout>/cmd/dge/version.go
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || modfile.ModulePath(data) != dgeModule {
		return develVersion, "", fmt.Errorf("this dge was built from the source checkout %s, which holds no go.mod of %s any more", dir, dgeModule)
	}
	return develVersion, dir, nil
}
