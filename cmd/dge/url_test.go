package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/brokertest"
)

// nastyPasswords hold each reserved character a user may paste unescaped
// into a URL.
var nastyPasswords = []string{"p/ss", "p#ss", "p@ss", "p?ss"}

// noPassword fails the test when out holds any of the passwords, as
// written or percent-encoded.
func noPassword(t *testing.T, out string, passwords ...string) {
	t.Helper()
	for _, pw := range passwords {
		for _, form := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw)} {
			if strings.Contains(out, form) {
				t.Errorf("output holds the password %q as %q:\n%s", pw, form, out)
			}
		}
	}
}

// withPassword returns u (a URL with credentials) with another password,
// written as is, unescaped.
func withPassword(t *testing.T, u, password string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Scheme + "://" + p.User.Username() + ":" + password + "@" + p.Host + p.EscapedPath()
}

// TestNoPasswordInAnyOutput runs plan, apply, destroy and parked list with passwords
// that hold reserved characters, unescaped (the URL does not parse, or
// parses into a wrong password) and escaped (the broker refuses them), in
// DGE_MANAGEMENT_URL and DGE_AMQP_URL, alone and as lists of three URLs
// with three passwords: every command fails saying what to fix, and no
// password appears in its output.
func TestNoPasswordInAnyOutput(t *testing.T) {
	vh := brokertest.NewVhost(t)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, brokerEnv(vh), "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	three := func(u string, pws ...string) string {
		var l []string
		for _, pw := range pws {
			l = append(l, withPassword(t, u, pw))
		}
		return strings.Join(l, ",")
	}
	esc := func(pw string) string { return url.PathEscape(pw) }
	type setting struct {
		name, variable, value string
		passwords             []string
	}
	var settings []setting
	for _, pw := range nastyPasswords {
		settings = append(settings,
			setting{"management " + pw, "DGE_MANAGEMENT_URL", withPassword(t, vh.ManagementURL, pw), []string{pw}},
			setting{"amqp " + pw, "DGE_AMQP_URL", withPassword(t, vh.AMQPURL, pw), []string{pw}},
			setting{"amqp escaped " + pw, "DGE_AMQP_URL", withPassword(t, vh.AMQPURL, esc(pw)), []string{pw}},
		)
	}
	pws := []string{"pw1/one", "pw2#two", "pw3?three"}
	settings = append(settings,
		setting{"management list", "DGE_MANAGEMENT_URL", three(vh.ManagementURL, pws...), pws},
		setting{"amqp list", "DGE_AMQP_URL", three(vh.AMQPURL, pws...), pws},
		setting{"amqp list escaped", "DGE_AMQP_URL", three(vh.AMQPURL, esc(pws[0]), esc(pws[1]), esc(pws[2])), pws},
	)
	for _, s := range settings {
		environ := []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL, s.variable + "=" + s.value}
		for _, args := range [][]string{{"plan", dir}, {"apply", "-auto-approve", dir}, {"destroy", "-auto-approve", dir}, {"parked", "list", dir}} {
			t.Run(s.name+"/"+args[0], func(t *testing.T) {
				code, out, errs := runIn(t, environ, args...)
				noPassword(t, out+errs, s.passwords...)
				if s.variable == "DGE_AMQP_URL" && (args[0] == "plan" || args[0] == "apply") && code == 0 {
					return // a URL that parses is used only to count before deletes
				}
				if code != 1 || !strings.Contains(errs, s.variable) {
					t.Errorf("exit %d, stderr %q; want 1 and a line naming %s", code, errs, s.variable)
				}
			})
		}
	}
	// The graph is still there: every destroy above failed before deleting.
	if code, out, errs := runIn(t, brokerEnv(vh), "plan", "-detailed-exitcode", dir); code != 0 {
		t.Errorf("plan after the failed destroys: exit %d\n%s%s", code, out, errs)
	}
}

// TestURLListsFailOver plans, applies and destroys with a management URL
// list and an AMQP URL list whose first URLs are unreachable (a management
// endpoint answering an HTTP error is not skipped); an AMQP URL without a
// path counts in the graph's vhost.
func TestURLListsFailOver(t *testing.T) {
	vh := brokertest.NewVhost(t)
	dir := chainGraph(t, vh.Name, "5s")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	mu, err := url.Parse(vh.ManagementURL)
	if err != nil {
		t.Fatal(err)
	}
	au, err := url.Parse(vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	noPath := *au
	noPath.Path, noPath.RawPath = "", ""
	environ := []string{
		"DGE_MANAGEMENT_URL=http://" + mu.User.String() + "@" + closed + "," + vh.ManagementURL,
		"DGE_AMQP_URL=amqp://guest:guest@" + closed + "," + noPath.String(),
	}
	if code, out, errs := runIn(t, environ, "plan", "-detailed-exitcode", dir); code != 2 {
		t.Fatalf("plan: exit %d, want 2\n%s%s", code, out, errs)
	}
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errs)
	}
	// A message in a queue: destroy must count it over AMQP, in the
	// graph's vhost, and refuse.
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), "", "out", true, false, amqpMsg())
	if err != nil {
		t.Fatal(err)
	}
	dc.Wait()
	code, _, errs := runIn(t, environ, "destroy", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errs, "queue out: it holds 1 message") {
		t.Fatalf("destroy with a message in out: exit %d, stderr %q; want the exact count", code, errs)
	}
	if code, out, errs := runIn(t, environ, "destroy", "-auto-approve", "-allow-message-loss", dir); code != 0 {
		t.Fatalf("destroy: exit %d\n%s%s", code, out, errs)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"internal","reason":"node is booting"}`, http.StatusInternalServerError)
	}))
	defer failing.Close()
	fu, err := url.Parse(failing.URL)
	if err != nil {
		t.Fatal(err)
	}
	environ[0] = "DGE_MANAGEMENT_URL=http://" + mu.User.String() + "@" + fu.Host + "," + vh.ManagementURL
	if code, _, errs := runIn(t, environ, "plan", dir); code != 1 || !strings.Contains(errs, "500") {
		t.Errorf("plan with an endpoint answering 500: exit %d, stderr %q; want its error, no failover", code, errs)
	}
}
