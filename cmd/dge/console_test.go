package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dgehq/dge/internal/brokertest"
)

// consoleRun is a dge console started in-process.
type consoleRun struct {
	url            string // the URL it printed
	stdout, stderr *syncBuffer
	stop           context.CancelFunc
	code           chan int
}

var openLine = regexp.MustCompile(`(?m)^Open (http://\S+)$`)

// startConsole runs dge console with args in environ until the test ends
// or stop is called, and waits for the URL it prints.
func startConsole(t *testing.T, environ []string, args ...string) *consoleRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &consoleRun{stdout: &syncBuffer{}, stderr: &syncBuffer{}, stop: cancel, code: make(chan int, 1)}
	e := &env{stdin: strings.NewReader(""), stdout: c.stdout, stderr: c.stderr, environ: environ}
	go func() { c.code <- e.dispatch(ctx, append([]string{"console", "-addr", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-c.code:
		case <-time.After(10 * time.Second):
			t.Error("dge console did not stop within 10 s of its interrupt")
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := openLine.FindStringSubmatch(c.stdout.String()); m != nil {
			c.url = m[1]
			return c
		}
		select {
		case code := <-c.code:
			t.Fatalf("dge console ended with %d before printing its URL\nstdout:\n%s\nstderr:\n%s", code, c.stdout, c.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dge console printed no URL in 20 s\nstdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
		}
	}
}

// get GETs path of the console and returns the status and body.
func (c *consoleRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	base, _, _ := strings.Cut(c.url, "/?")
	res, err := http.Get(strings.TrimSuffix(base, "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestConsoleCommand: dge console prints the URL to open, with a token
// only with -allow-actions, serves the graph's status, and stops cleanly
// on interrupt (exit 0).
func TestConsoleCommand(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	for _, allow := range []bool{false, true} {
		args := []string{dir}
		if allow {
			args = []string{"-allow-actions", dir}
		}
		c := startConsole(t, environ, args...)
		hasToken := regexp.MustCompile(`^http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{64}$`).MatchString(c.url)
		plain := regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`).MatchString(c.url)
		if allow != hasToken || allow == plain {
			t.Errorf("-allow-actions %v: URL %q", allow, c.url)
		}
		mode := "read-only"
		if allow {
			mode = "actions allowed"
		}
		if !strings.Contains(c.stdout.String(), `dge console: graph c, vhost "`+vh.Name+`", `+mode) {
			t.Errorf("stdout:\n%s", c.stdout)
		}
		code, body := c.get(t, "/api/status")
		var r struct {
			Graph string
			Edges []struct{ Queue string }
		}
		if code != 200 || json.Unmarshal([]byte(body), &r) != nil || r.Graph != "c" || len(r.Edges) != 2 {
			t.Errorf("/api/status: %d %s", code, body)
		}
		c.stop()
		select {
		case code := <-c.code:
			if code != exitOK || !strings.HasSuffix(c.stdout.String(), "dge console: stopped.\n") {
				t.Errorf("after interrupt: exit %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout, c.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("dge console did not stop within 10 s of its interrupt")
		}
		c.code <- exitOK // for the cleanup
	}
}

// TestConsoleManagementError: a management API that refuses the password,
// or a vhost that does not exist, is shown by /api/status with the text
// dge status prints, without the password, in the response and in the
// console's log.
func TestConsoleManagementError(t *testing.T) {
	vh := brokertest.NewVhost(t)
	const secret = "s3cret-console-pw"
	wrong := "http://guest:" + secret + vh.ManagementURL[strings.LastIndex(vh.ManagementURL, "@"):]
	for _, tc := range []struct {
		name, vhost string
		environ     []string
	}{
		{"wrong password", vh.Name, []string{"DGE_MANAGEMENT_URL=" + wrong}},
		{"missing vhost", vh.Name + "-missing", []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := chainGraph(t, tc.vhost, "5s")
			code, _, errs := runIn(t, tc.environ, "status", dir)
			cli, ok := strings.CutPrefix(strings.TrimSpace(errs), "dge status: ")
			if code != exitError || !ok {
				t.Fatalf("dge status: exit %d, stderr %q", code, errs)
			}
			t.Logf("dge status says: %s", cli)
			c := startConsole(t, tc.environ, dir)
			status, body := c.get(t, "/api/status")
			var got struct{ Error string }
			if status != http.StatusBadGateway || json.Unmarshal([]byte(body), &got) != nil || got.Error != cli {
				t.Errorf("/api/status: %d %s\nwant 502 and the CLI's text %q", status, body, cli)
			}
			if strings.Contains(body, secret) || strings.Contains(c.stderr.String(), secret) || strings.Contains(c.stdout.String(), secret) {
				t.Errorf("the password shows:\nbody %s\nstdout:\n%s\nstderr:\n%s", body, c.stdout, c.stderr)
			}
		})
	}
}
