package browsertest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dgehq/dge/internal/browsertest"
)

// TestBrowserDrivesAPageAndIsKilled proves the harness: the page's script
// runs, the test reads the DOM and the page's console, clicks, saves a PNG,
// and the browser process is gone once the test's Cleanup has run.
func TestBrowserDrivesAPageAndIsKilled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `document.querySelector("#out").textContent = "ran";
document.querySelector("button").addEventListener("click", () => { document.querySelector("#out").textContent = "clicked"; });
console.error("a console error");`)
		case "/favicon.ico":
			http.NotFound(w, r) // the browser logs it; no script error
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><title>t</title><p id="out">static</p><button>go</button><script src="/app.js"></script>`)
		}
	}))
	defer srv.Close()

	var pid int
	t.Run("drive", func(t *testing.T) {
		b := browsertest.Start(t)
		pid = b.PID()
		if pid == 0 {
			t.Fatal("no browser process")
		}
		b.Do("open the page", chromedp.Navigate(srv.URL))
		if got := browsertest.Eval[string](b, `document.querySelector("#out").textContent`); got != "ran" {
			t.Errorf("script output = %q, want %q", got, "ran")
		}
		b.Do("click", chromedp.Click(chromedp.CSS("button")))
		b.WaitFor("the click handler", `document.querySelector("#out").textContent === "clicked"`, 5*time.Second)
		var errs []string
		for end := time.Now().Add(5 * time.Second); len(errs) == 0 && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			errs = b.ScriptErrors()
		}
		if len(errs) != 1 || !strings.Contains(errs[0], "a console error") {
			t.Errorf("console errors = %q, want the page's one", errs)
		}
		path := b.Screenshot("browsertest.png")
		png, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot %s is not a PNG (err %v)", path, err)
		}
	})
	if pid == 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			break // a zombie has exited; its parent reaps it
		}
		if time.Now().After(deadline) {
			t.Fatalf("browser process %d still runs after the test's Cleanup", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
