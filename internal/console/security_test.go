package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dgehq/dge/internal/console"
)

// TestReadOnlyRefusesActions: without -allow-actions every action is
// refused with the text that says how to allow them, whatever the request
// carries, and the parked messages stay; a token in a page's URL sets no
// cookie.
func TestReadOnlyRefusesActions(t *testing.T) {
	f := newFixture(t, false)
	headers := map[string]string{"Content-Type": "application/json", "Origin": f.base, "Sec-Fetch-Site": "same-origin",
		"Authorization": "Bearer " + strings.Repeat("0", 64)}
	for _, path := range []string{"/api/parked/count", "/api/parked/redrive", "/api/parked/purge"} {
		res, body := f.do(t, request{method: "POST", path: path, body: `{"op":"purge"}`, header: headers})
		if res.StatusCode != http.StatusForbidden || body != `{"error":"actions are off: start dge console with -allow-actions"}`+"\n" {
			t.Errorf("POST %s: %d %s", path, res.StatusCode, body)
		}
	}
	if d := f.messages(t, "a_in.dead"); d != 2 {
		t.Errorf("a_in.dead holds %d after refused actions, want 2", d)
	}
	res, _ := f.do(t, request{method: "GET", path: "/parked?token=abc&node=process.a"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/parked?node=process.a" || len(res.Cookies()) != 0 {
		t.Errorf("GET /parked?token= on a read-only console: %d, Location %q, cookies %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
}

// TestActionsRefused: with actions allowed, a purge without the token,
// with a wrong one, from another origin, from a cross-site or same-site
// page, with a form's or text's content type, or naming another host is
// refused, and nothing changes; the same purge sent right then works.
func TestActionsRefused(t *testing.T) {
	f := newFixture(t, true)
	good := f.pageHeaders()
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		code   int
		says   string
	}{
		{"no token", with("Cookie", ""), 403, "no valid token"},
		{"wrong cookie", with("Cookie", console.TokenCookie+"="+strings.Repeat("ab", 32)), 403, "no valid token"},
		{"wrong bearer", with("Authorization", "Bearer "+strings.Repeat("ab", 32)), 403, "no valid token"},
		{"foreign origin", with("Origin", "http://evil.example"), 403, `origin \"http://evil.example\" is refused`},
		{"origin null", with("Origin", "null"), 403, "is refused"},
		{"cross-site", with("Sec-Fetch-Site", "cross-site"), 403, "a cross-site action is refused"},
		{"same-site", with("Sec-Fetch-Site", "same-site"), 403, "a same-site action is refused"},
		{"form", with("Content-Type", "application/x-www-form-urlencoded"), 403, "Content-Type: application/json"},
		{"text", with("Content-Type", "text/plain"), 403, "Content-Type: application/json"},
		{"no content type", with("Content-Type", ""), 403, "Content-Type: application/json"},
		{"other host", with("Host", "evil.example:"+strings.Split(f.host, ":")[1]), 421, "this is dge console at"},
		{"rebound name", with("Host", "rebind.example"), 421, "this is dge console at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := f.do(t, request{method: "POST", path: "/api/parked/purge", body: `{"op":"purge"}`, header: tc.header})
			if res.StatusCode != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("%d %s; want %d and %q", res.StatusCode, body, tc.code, tc.says)
			}
		})
	}
	if d := f.messages(t, "a_in.dead"); d != 2 {
		t.Fatalf("a_in.dead holds %d after refused purges, want 2", d)
	}
	// A bad Host is refused for a read, too.
	if res, _ := f.do(t, request{method: "GET", path: "/api/graph", header: map[string]string{"Host": "rebind.example:80"}}); res.StatusCode != 421 {
		t.Errorf("GET with a foreign Host: %d, want 421", res.StatusCode)
	}
	// The console's other names are its own.
	port := strings.Split(f.host, ":")[1]
	for _, host := range []string{"localhost:" + port, "[::1]:" + port, "LOCALHOST:" + port} {
		if res, body := f.do(t, request{method: "GET", path: "/api/graph", header: map[string]string{"Host": host}}); res.StatusCode != 200 {
			t.Errorf("GET with Host %s: %d %s", host, res.StatusCode, body)
		}
	}
	// The same purge, sent right (the bearer instead of the cookie, no
	// Origin or Sec-Fetch-Site: a script, not a browser), works.
	_, tok, _ := strings.Cut(f.srv.URL(), "?token=")
	res, body := f.do(t, request{method: "POST", path: "/api/parked/purge", body: `{}`,
		header: map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer " + tok}})
	if res.StatusCode != 200 || !strings.Contains(body, `"moved":2`) {
		t.Fatalf("purge sent right: %d %s", res.StatusCode, body)
	}
	if d := f.messages(t, "a_in.dead"); d != 0 {
		t.Errorf("a_in.dead holds %d after the purge, want 0", d)
	}
}

// TestTokenFlow: GET PAGE?token=T with the printed token sets the
// HttpOnly, SameSite=Strict cookie and redirects to the page without the
// token; the cookie then carries an action; a wrong token sets nothing.
func TestTokenFlow(t *testing.T) {
	f := newFixture(t, true)
	url := f.srv.URL()
	_, tok, ok := strings.Cut(url, "/?token=")
	if !ok || len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" || url != f.base+"/?token="+tok {
		t.Fatalf("URL %q: want %s/?token= and 64 hex digits", url, f.base)
	}
	res, _ := f.do(t, request{method: "GET", path: "/parked?node=process.a&token=" + tok})
	cs := res.Cookies()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/parked?node=process.a" || len(cs) != 1 {
		t.Fatalf("GET /parked?token=: %d, Location %q, cookies %v", res.StatusCode, res.Header.Get("Location"), cs)
	}
	c := cs[0]
	if c.Name != console.TokenCookie || c.Value != tok || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v", c)
	}
	res, body := f.do(t, request{method: "POST", path: "/api/parked/count", body: `{"op":"purge"}`,
		header: map[string]string{"Content-Type": "application/json", "Cookie": c.String(), "Origin": f.base}})
	if res.StatusCode != 200 || !strings.Contains(body, `"total":2`) {
		t.Errorf("count with the cookie: %d %s", res.StatusCode, body)
	}
	res, body = f.do(t, request{method: "GET", path: "/?token=" + strings.Repeat("0", 64)})
	if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 || !strings.Contains(body, "wrong token") {
		t.Errorf("GET /?token=WRONG: %d, cookies %v, %s", res.StatusCode, res.Cookies(), body)
	}
}
