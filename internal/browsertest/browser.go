package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is where the browser is: Debian's chromium package installs it there.
const Path = "/usr/bin/chromium"

// MissingMessage is the failure of a test that finds no browser at Path.
const MissingMessage = "chromium not found: run scripts/ensure-tools.sh (make test runs it)"

// ActionTimeout bounds each Do, Eval and Screenshot, so a page that never
// shows what a test waits for fails the test instead of hanging it.
const ActionTimeout = 30 * time.Second

// Browser is one headless Chromium with one tab, owned by one test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab's chromedp context; it has run once

	mu      sync.Mutex
	console []consoleLine // what the pages wrote to the console, their uncaught errors, the browser's log
	output  lockedBuffer
}

// Start starts headless Chromium for t with a fresh user data directory and
// opens one blank tab. It fails t with MissingMessage when there is no browser.
// The browser and every process it started are killed in t's Cleanup; when t
// has failed, Cleanup first logs what the pages wrote to the console.
func Start(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Fatalf("%s (%v)", MissingMessage, err)
	}
	dir := t.TempDir() // removed after the Cleanup below has run
	b := &Browser{t: t}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1400, 900),
		chromedp.CombinedOutput(&b.output),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	// Console starts the browser and subscribes before any page loads.
	messages := chromedp.Console(ctx)
	var pid int
	if c := chromedp.FromContext(ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		pid = c.Browser.Process().Pid
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, consoleLine{source: m.Source, text: fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line),
				script: m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == "")})
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b.logConsole()
		}
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
		<-stopped
		killLeftovers(dir)
		if pid != 0 && syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if _, err := chromedp.Run(ctx, chromedp.Location()); err != nil {
		t.Fatalf("start %s: %v\n%s", Path, err, b.output.tail(2000))
	}
	b.ctx = ctx
	return b
}

// Context is the tab's chromedp context, for actions the methods here do not
// cover. Derive a context with a timeout from it; never cancel it.
func (b *Browser) Context() context.Context { return b.ctx }

// PID is the process ID of the browser's main process.
func (b *Browser) PID() int {
	if c := chromedp.FromContext(b.ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		return c.Browser.Process().Pid
	}
	return 0
}

// Do runs the actions in the tab, in order, and fails the test when one fails
// or they take longer than ActionTimeout. what says what they do, for the
// failure message.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the tab's page and returns its
// value decoded into T; a promise is awaited. It fails the test on an error.
func Eval[T any](b *Browser, expression string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expression, err)
	}
	return v
}

// WaitFor waits until the JavaScript expression is truthy in the tab's page,
// checking every 100 ms, and fails the test after timeout with what.
func (b *Browser) WaitFor(what, expression string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expression,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.t.Fatalf("browser: waiting %v for %s (%s): %v", timeout, what, expression, err)
	}
}

// consoleLine is one message of the tab's console.
type consoleLine struct {
	text   string
	source string // the part of the browser that logged it ("network"), "" for a page's script
	script bool   // an uncaught exception or a console.error call of a page's script
}

// Console returns what the tab's console showed so far, one line each: what
// the pages' scripts wrote, their uncaught exceptions, and the browser's own
// log (a failed request, a refused cross-origin fetch).
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := make([]string, len(b.console))
	for i, l := range b.console {
		lines[i] = l.text
		if l.source != "" {
			lines[i] = l.source + " " + l.text
		}
	}
	return lines
}

// ScriptErrors returns the uncaught exceptions of the pages' scripts and what
// they passed to console.error, one line each. A request that failed is no
// script error: the browser logs it, and Console shows it.
func (b *Browser) ScriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []string
	for _, l := range b.console {
		if l.script {
			errs = append(errs, l.text)
		}
	}
	return errs
}

func (b *Browser) logConsole() {
	for _, line := range b.Console() {
		b.t.Logf("browser console: %s", line)
	}
}

// killLeftovers kills, by PID, the processes whose command line names dir as
// their user data directory: the children of the browser this package
// started (a renderer or the zygote can outlive the main process), and no
// other, since dir is the test's own. It looks again until a few passes in a
// row find none, so the directory can be removed.
func killLeftovers(dir string) {
	want := []byte("--user-data-dir=" + dir)
	deadline := time.Now().Add(3 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		found := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for _, arg := range bytes.Split(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					if err := syscall.Kill(pid, syscall.SIGKILL); err == nil || !errors.Is(err, syscall.ESRCH) {
						found++
					}
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// lockedBuffer keeps the browser's own output for a failure message.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
