package main

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
)

// version is dge's release, set at build time with
// -ldflags "-X main.version=v1.2.3"; "dev" otherwise.
var version = "dev"

func runVersion(_ context.Context, e *env, args []string) int {
	fs := e.newFlagSet("version", "dge version", "Print the dge version, the module version it was built from, and the Go version.")
	pos, code, done := parseArgs(fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "dge version: takes no arguments, got %q\n", pos)
		return exitError
	}
	fmt.Fprintf(e.stdout, "dge %s\n", version)
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" && v != version {
			fmt.Fprintf(e.stdout, "module %s %s\n", info.Main.Path, v)
		}
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			}
		}
		if revision != "" {
			fmt.Fprintf(e.stdout, "revision %s%s\n", revision, modified)
		}
	}
	fmt.Fprintf(e.stdout, "%s %s/%s\n", goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
	return exitOK
}
