package main

import (
	"flag"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEveryCommandAndFlag checks the README's table of commands
// against the CLI: a row per command (per parked subcommand), naming every
// flag its -h lists, and no row for a command that does not exist.
func TestREADMEListsEveryCommandAndFlag(t *testing.T) {
	readme := readFile(t, "../../docs/commands.md")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| \\[`([a-z ]+)`\\]\\([^)]*\\) \\| (.*) \\|$").FindAllStringSubmatch(readme, -1) {
		rows[m[1]] = m[2]
	}
	var names []string
	for _, c := range commands {
		if c.name == "parked" {
			names = append(names, "parked list", "parked redrive", "parked purge")
			continue
		}
		names = append(names, c.name)
	}
	e := &env{}
	for _, name := range names {
		row, ok := rows[name]
		if !ok {
			t.Errorf("README's command table has no row for %s", name)
			continue
		}
		delete(rows, name)
		fs := e.commandFlags(t.Context(), name)
		if fs == nil {
			if name != "completion" {
				t.Errorf("dge %s -h makes no flag set", name)
			}
			continue
		}
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(row, "`-"+f.Name+"`") && !strings.Contains(row, "`-"+f.Name+" ") {
				t.Errorf("README's row for %s lacks -%s: %s", name, f.Name, row)
			}
		})
	}
	for name := range rows {
		t.Errorf("README's command table lists %q, which dge does not have", name)
	}
}
