package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"path"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.tmpl"))

// Project describes the project to write.
type Project struct {
	Module string // the Go module path, e.g. "example.com/hello"
	Name   string // the graph's name (see GraphName)
	// Handlers is the import path of the handlers package; Module +
	// "/handlers" when empty.
	Handlers string
}

// The files of a project, by slash-separated path relative to its folder;
// Test is in the folder of the generated program, cmd/<name>.
const (
	GraphFile    = "graph.dge.hcl"
	HandlersFile = "handlers/handlers.go"
	DocFile      = "handlers/doc.go"
	TestFile     = "graph_test.go"
)

// HandlersDir is the handlers package's folder, relative to the project.
const HandlersDir = "handlers"

// HandlersPath returns the import path of the project's handlers package.
func (p Project) HandlersPath() string {
	if p.Handlers != "" {
		return p.Handlers
	}
	return p.Module + "/" + HandlersDir
}

// TestPath returns the path of the graph's test, relative to the project:
// beside the generated program in cmd/<name>.
func (p Project) TestPath() string { return path.Join("cmd", p.Name, TestFile) }

// Files renders the project's files, keyed by path relative to the project
// folder (slash-separated): the graph, the handlers package and the test.
// Go files are gofmt-formatted.
func (p Project) Files() (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, tmpl := range map[string]string{
		GraphFile:    "graph.dge.hcl.tmpl",
		HandlersFile: "handlers.go.tmpl",
		DocFile:      "doc.go.tmpl",
		p.TestPath(): "graph_test.go.tmpl",
	} {
		var b bytes.Buffer
		data := struct {
			Project
			HandlersPath string
		}{p, p.HandlersPath()}
		if err := templates.ExecuteTemplate(&b, tmpl, data); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		out := b.Bytes()
		if strings.HasSuffix(name, ".go") {
			src, err := format.Source(out)
			if err != nil {
				return nil, fmt.Errorf("render %s: %w", name, err)
			}
			out = src
		}
		files[name] = out
	}
	return files, nil
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// GraphName derives a graph name from the import path of the project's
// folder (the module path for a new module): its last element,
// lower-cased, with every run of other characters than letters, digits and
// underscores made one underscore; "app" when that does not start with a
// letter.
func GraphName(module string) string {
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(path.Base(module)), "_"), "_")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		return "app"
	}
	return name
}
