package web_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/console/web"
)

// contract lists, per page, the element IDs the pages' scripts and the
// browser test read (the DOM contract in docs/console.md).
var contract = map[string][]string{
	"index.html":   {"graph", "updated", "error", "mode", "panel", "chart", "problems", "fit"},
	"parked.html":  {"parked", "filters", "filter-node", "filter-reason", "filter-run", "actions", "action-result", "confirm", "confirm-count", "confirm-yes", "confirm-no", "error", "mode"},
	"message.html": {"body", "headers", "fields", "actions", "action-result", "confirm", "confirm-count", "confirm-yes", "error", "mode"},
	"runs.html":    {"lookup", "run-id", "run", "note", "trace-link", "run-parked", "states", "actions", "action-result", "confirm", "confirm-count", "confirm-yes", "error", "mode"},
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(web.Files, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	srcAttr   = regexp.MustCompile(`\bsrc="([^"]+)"`)
	hrefCSS   = regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)
	idAttr    = regexp.MustCompile(`\bid="([^"]+)"`)
	// inline style and event handler attributes, which the console's
	// Content-Security-Policy (default-src 'self') blocks
	inlineAttr = regexp.MustCompile(`(?i)\s(style|on[a-z]+)=`)
	jsImport   = regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";$`)
)

// TestPages checks that every page loads only its own files: one module
// script from /static/, the style sheet, no inline script, style or event
// handler (the CSP forbids them), nothing from another host (the console
// works offline), and that it holds the IDs its scripts read.
func TestPages(t *testing.T) {
	seen := map[string]bool{}
	for path, file := range web.Pages {
		t.Run(file, func(t *testing.T) {
			page := read(t, file)
			seen[file] = true
			scripts := scriptTag.FindAllStringSubmatch(page, -1)
			if len(scripts) != 1 {
				t.Fatalf("%s (%s): %d script elements, want 1", file, path, len(scripts))
			}
			if strings.TrimSpace(scripts[0][2]) != "" || !strings.Contains(scripts[0][1], `type="module"`) {
				t.Errorf("%s: the script is inline or no module: %s", file, scripts[0][0])
			}
			asset(t, file, srcAttr.FindStringSubmatch(scripts[0][1]))
			asset(t, file, hrefCSS.FindStringSubmatch(page))
			if m := inlineAttr.FindString(page); m != "" {
				t.Errorf("%s has an inline attribute the CSP blocks: %q", file, m)
			}
			if strings.Contains(page, "://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
				t.Errorf("%s names another host", file)
			}
			var ids []string
			for _, m := range idAttr.FindAllStringSubmatch(page, -1) {
				if slices.Contains(ids, m[1]) {
					t.Errorf("%s: id %q twice", file, m[1])
				}
				ids = append(ids, m[1])
			}
			for _, id := range contract[file] {
				if !slices.Contains(ids, id) {
					t.Errorf("%s has no element #%s", file, id)
				}
			}
		})
	}
	for file := range contract {
		if !seen[file] {
			t.Errorf("%s is not served as a page", file)
		}
	}
}

func asset(t *testing.T, page string, m []string) {
	t.Helper()
	if m == nil {
		t.Errorf("%s: no script or style sheet", page)
		return
	}
	name, ok := strings.CutPrefix(m[1], web.StaticPrefix)
	if !ok {
		t.Errorf("%s loads %s, not under %s", page, m[1], web.StaticPrefix)
		return
	}
	if _, err := fs.Stat(web.Files, name); err != nil {
		t.Errorf("%s loads %s: %v", page, m[1], err)
	}
}

// TestModules checks that each module imports only modules of its own
// directory that exist, fetches nothing from another host, and never parses
// text as HTML.
func TestModules(t *testing.T) {
	files, err := fs.Glob(web.Files, "*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	for _, f := range files {
		src := read(t, f)
		for _, m := range jsImport.FindAllStringSubmatch(src, -1) {
			if _, err := fs.Stat(web.Files, m[1]); err != nil {
				t.Errorf("%s imports %s: %v", f, m[1], err)
			}
		}
		if strings.Contains(src, "import ") && !strings.Contains(src, `from "./`) {
			t.Errorf("%s imports from elsewhere than its directory", f)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://"} {
			if strings.Contains(src, bad) && !(bad == "http://" && strings.Contains(src, `"http://www.w3.org/2000/svg"`) && strings.Count(src, "http://") == 1) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}

// TestActionButtons checks that the parked page's static buttons follow the
// contract: data-action redrive or purge, data-scope all.
func TestActionButtons(t *testing.T) {
	page := read(t, "parked.html")
	for _, op := range []string{"redrive", "purge"} {
		if !strings.Contains(page, `data-action="`+op+`" data-scope="all"`) {
			t.Errorf("parked.html has no %s button of scope all", op)
		}
	}
	if !strings.Contains(page, `<div id="actions" class="actions" hidden>`) {
		t.Error("parked.html shows its actions before it knows they are allowed")
	}
}
