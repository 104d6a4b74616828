package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// TestCommandTableListsEveryCommandAndFlag checks the table of commands in
// docs/commands.md against the CLI: a row per command (per parked
// subcommand), naming every flag its -h lists, and no row for a command
// that does not exist.
func TestCommandTableListsEveryCommandAndFlag(t *testing.T) {
	table := readFile(t, "../../docs/commands.md")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| \\[`([a-z ]+)`\\]\\([^)]*\\) \\| (.*) \\|$").FindAllStringSubmatch(table, -1) {
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
			t.Errorf("docs/commands.md's command table has no row for %s", name)
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
				t.Errorf("docs/commands.md's row for %s lacks -%s: %s", name, f.Name, row)
			}
		})
	}
	for name := range rows {
		t.Errorf("docs/commands.md's command table lists %q, which dge does not have", name)
	}
}

// maxREADMELines bounds the README: a first page, not the reference.
const maxREADMELines = 300

// TestDocs checks README.md and every docs/*.md page as a reader follows
// them: every `dge <command> -flag` they show exists, every relative link
// and #anchor resolves to a file and a heading, the README stays within
// maxREADMELines, and every docs page is linked from the README.
func TestDocs(t *testing.T) {
	repo := os.DirFS("../..")
	pages := docPages(t, repo)
	if len(pages) < 3 {
		t.Fatalf("found only %v: expected README.md and the docs/ pages", pages)
	}
	cli := cliFlags(t.Context())
	for _, p := range pages {
		for _, problem := range checkPage(repo, p, cli) {
			t.Errorf("%s: %s", p, problem)
		}
	}
	readme, err := fs.ReadFile(repo, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > maxREADMELines {
		t.Errorf("README.md has %d lines, more than %d: move reference text to a docs/ page and link it", n, maxREADMELines)
	}
	for _, problem := range unlinkedPages(repo, pages) {
		t.Error(problem)
	}
}

// TestDocsChecksCatchMistakes shows that the checks TestDocs runs find each
// kind of mistake, on a small tree of pages.
func TestDocsChecksCatchMistakes(t *testing.T) {
	repo := fstest.MapFS{
		"README.md": {Data: []byte("# dge\n\n## Start here\n\nSee [the language](docs/language.md#blocks), [ops](docs/ops.md#nowhere),\n" +
			"[gone](docs/gone.md) and [here](#start-here), [not here](#elsewhere).\n\n" +
			"```sh\n$ dge apply -auto-approve -no-such-flag .\ndge will apply 3 changes\n$ dge frobnicate\n```\n\n" +
			"Run `dge parked redrive -node a -node b` or `dge parked\nlist -rate 5`, not `dge parked -json`; prints `dge <version>`,\n" +
			"draws `dge graph -format dot . | dot -Tsvg`.\n")},
		"docs/language.md": {Data: []byte("# The language\n\n## Blocks\n\n## Blocks\n\nLink [twice](#blocks-1), [back](../README.md#start-here).\n\n```hcl\n# dge plan -not-a-heading\n```\n")},
		"docs/ops.md":      {Data: []byte("# Ops\n")},
		"docs/orphan.md":   {Data: []byte("# Orphan\n\nsource <(dge completion bash)   # and `dge status -watch 2s -check`\n")},
	}
	cli := cliFlags(t.Context())
	var got []string
	pages := docPages(t, repo)
	for _, p := range pages {
		for _, problem := range checkPage(repo, p, cli) {
			got = append(got, p+": "+problem)
		}
	}
	got = append(got, unlinkedPages(repo, pages)...)
	want := []string{
		`README.md: dge apply has no flag -no-such-flag: "dge apply -auto-approve -no-such-flag ."`,
		`README.md: dge has no command frobnicate: "dge frobnicate"`,
		`README.md: dge parked list has no flag -rate: "dge parked list -rate 5"`,
		`README.md: dge parked has no flag -json: "dge parked -json"`,
		`README.md: link "docs/gone.md": docs/gone.md does not exist`,
		`README.md: link "docs/ops.md#nowhere": docs/ops.md has no heading #nowhere`,
		`README.md: link "#elsewhere": README.md has no heading #elsewhere`,
		`docs/orphan.md is not linked from README.md`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems found (-want +got):\n-%s\n+%s", strings.Join(want, "\n-"), strings.Join(got, "\n+"))
	}
}

// docPages returns README.md and every docs/*.md page of repo, sorted.
func docPages(t *testing.T, repo fs.FS) []string {
	t.Helper()
	pages, err := fs.Glob(repo, "docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, pages...)
}

// cliFlags maps each command dge has ("parked list" for a parked
// subcommand) to its flag set; a command without flags maps to nil.
func cliFlags(ctx context.Context) map[string]*flag.FlagSet {
	e := &env{}
	cli := map[string]*flag.FlagSet{}
	for _, c := range commands {
		if c.name == "parked" {
			for _, sub := range []string{"list", "redrive", "purge"} {
				cli["parked "+sub] = e.commandFlags(ctx, "parked "+sub)
			}
			cli["parked"] = nil // named alone, as a group
			continue
		}
		cli[c.name] = e.commandFlags(ctx, c.name)
	}
	return cli
}

// checkPage returns the problems of one page: commands and flags that do
// not exist, links and anchors that do not resolve.
func checkPage(repo fs.FS, page string, cli map[string]*flag.FlagSet) []string {
	b, err := fs.ReadFile(repo, page)
	if err != nil {
		return []string{err.Error()}
	}
	prose, code := splitMarkdown(string(b))
	var problems []string
	for _, cmd := range commandMentions(prose, code) {
		if p := checkCommand(cmd, cli); p != "" {
			problems = append(problems, p)
		}
	}
	for _, m := range linkPattern.FindAllStringSubmatch(stripCodeSpans(prose), -1) {
		if p := checkLink(repo, page, m[1]); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// splitMarkdown separates a page's prose from its fenced code blocks: each
// block is returned as its lines, and left out of prose.
func splitMarkdown(text string) (prose string, blocks [][]string) {
	var out strings.Builder
	var block []string
	inBlock := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if inBlock {
				blocks = append(blocks, block)
				block = nil
			}
			inBlock = !inBlock
			out.WriteString("\n")
			continue
		}
		if inBlock {
			block = append(block, line)
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.String(), blocks
}

var (
	codeSpan    = regexp.MustCompile("`[^`]+`")
	linkPattern = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	shellSplit  = regexp.MustCompile(`\||&&|;|<\(|\$\(|\(`)
	envAssign   = regexp.MustCompile(`^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+`)
)

// stripCodeSpans blanks the inline code of prose, so that links are read
// from text only.
func stripCodeSpans(prose string) string {
	return codeSpan.ReplaceAllString(prose, "``")
}

// commandMentions returns every dge command line a page shows: inline code
// that starts with "dge ", and in a code block every shell command that
// starts with dge (only the lines after a "$ " prompt when the block has
// any, so that printed output is not read as a command).
func commandMentions(prose string, blocks [][]string) []string {
	var cmds []string
	for _, span := range codeSpan.FindAllString(prose, -1) {
		span = strings.Join(strings.Fields(strings.Trim(span, "`")), " ")
		if strings.HasPrefix(span, "dge ") {
			cmds = append(cmds, strings.TrimSpace(shellSplit.Split(span, 2)[0]))
		}
	}
	for _, block := range blocks {
		prompted := slices.ContainsFunc(block, func(l string) bool { return strings.HasPrefix(l, "$ ") })
		for _, line := range block {
			if prompted {
				var ok bool
				if line, ok = strings.CutPrefix(line, "$ "); !ok {
					continue
				}
			}
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			for _, seg := range shellSplit.Split(line, -1) {
				seg = envAssign.ReplaceAllString(strings.TrimSpace(seg), "")
				if strings.HasPrefix(seg, "dge ") {
					cmds = append(cmds, strings.Join(strings.Fields(seg), " "))
				}
			}
		}
	}
	return cmds
}

var commandWord = regexp.MustCompile(`^[a-z]+$`)

// checkCommand checks one command line, "dge apply -auto-approve .": the
// command must exist and take every flag given. A word after dge that is
// no lower-case word ("dge <version>") is no command and is skipped.
func checkCommand(line string, cli map[string]*flag.FlagSet) string {
	words := strings.Fields(line)[1:]
	if len(words) == 0 || !commandWord.MatchString(words[0]) {
		return ""
	}
	name, args := words[0], words[1:]
	if name == "parked" && len(args) > 0 && commandWord.MatchString(args[0]) {
		name, args = "parked "+args[0], args[1:]
	}
	fs, ok := cli[name]
	if !ok {
		return fmt.Sprintf("dge has no command %s: %q", name, line)
	}
	for _, a := range args {
		a = strings.TrimLeft(strings.TrimRight(a, "]`,.…"), "[")
		a = strings.TrimSuffix(a, "...")
		if len(a) < 2 || a[0] != '-' || !unicode.IsLetter(rune(strings.TrimLeft(a, "-")[0])) {
			continue
		}
		f, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f == "h" || f == "help" {
			continue
		}
		if fs == nil || fs.Lookup(f) == nil {
			return fmt.Sprintf("dge %s has no flag -%s: %q", name, f, line)
		}
	}
	return ""
}

// checkLink checks a link of page: a relative target must name a file of
// repo, and an #anchor a heading of the Markdown page it names.
func checkLink(repo fs.FS, page, target string) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	file, anchor, _ := strings.Cut(target, "#")
	if file == "" {
		file = page
	} else {
		file = path.Join(path.Dir(page), file)
	}
	b, err := fs.ReadFile(repo, file)
	if err != nil {
		if _, err := fs.Stat(repo, file); err == nil {
			return "" // a folder
		}
		return fmt.Sprintf("link %q: %s does not exist", target, file)
	}
	if anchor == "" || !strings.HasSuffix(file, ".md") {
		return ""
	}
	if !slices.Contains(headingAnchors(string(b)), anchor) {
		return fmt.Sprintf("link %q: %s has no heading #%s", target, file, anchor)
	}
	return ""
}

// headingAnchors returns the anchors GitHub gives a page's headings: the
// text in lower case, without punctuation, spaces as hyphens, and -1, -2,
// ... after a repeated one.
func headingAnchors(text string) []string {
	prose, _ := splitMarkdown(text)
	var anchors []string
	seen := map[string]int{}
	for line := range strings.SplitSeq(prose, "\n") {
		heading := strings.TrimLeft(line, "#")
		if heading == line || len(line)-len(heading) > 6 || !strings.HasPrefix(heading, " ") {
			continue
		}
		var slug strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				slug.WriteRune(r)
			case r == ' ':
				slug.WriteRune('-')
			}
		}
		a := slug.String()
		if n := seen[a]; n > 0 {
			seen[a]++
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		anchors = append(anchors, a)
	}
	return anchors
}

// unlinkedPages returns a problem for each docs page the README does not
// link to.
func unlinkedPages(repo fs.FS, pages []string) []string {
	b, err := fs.ReadFile(repo, "README.md")
	if err != nil {
		return []string{err.Error()}
	}
	prose, _ := splitMarkdown(string(b))
	linked := map[string]bool{}
	for _, m := range linkPattern.FindAllStringSubmatch(stripCodeSpans(prose), -1) {
		file, _, _ := strings.Cut(m[1], "#")
		linked[path.Clean(file)] = true
	}
	var problems []string
	for _, p := range pages {
		if p != "README.md" && !linked[p] {
			problems = append(problems, p+" is not linked from README.md")
		}
	}
	return problems
}
