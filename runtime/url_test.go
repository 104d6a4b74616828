package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// nastyPasswords hold each reserved character a user may paste unescaped.
var nastyPasswords = []string{"p/ss", "p#ss", "p@ss", "p?ss", "hunter2/x#y@z?w"}

// leaked reports whether text holds pw, or a piece of it 4 characters or
// longer between reserved characters.
func leaked(text, pw string) bool {
	if strings.Contains(text, pw) {
		return true
	}
	for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("/#?@:", r) }) {
		if len(piece) >= 4 && strings.Contains(text, piece) {
			return true
		}
	}
	return false
}

func TestParseEndpoints(t *testing.T) {
	for _, tt := range []struct {
		name, list, vhost string
		urls              []string // resolved, in list order
		errPart           string   // "" for no error
	}{
		{name: "one", list: "amqp://u:p@h:5672/v", vhost: "g", urls: []string{"amqp://u:p@h:5672/v"}},
		{name: "no path keeps the graph's vhost", list: "amqp://u:p@h:5672", vhost: "g", urls: []string{"amqp://u:p@h:5672/g"}},
		{name: "slash keeps the graph's vhost", list: "amqp://u:p@h:5672/", vhost: "my vh", urls: []string{"amqp://u:p@h:5672/my%20vh"}},
		{name: "escaped slash is the vhost /", list: "amqp://h/%2F", vhost: "g", urls: []string{"amqp://h/%2F"}},
		{name: "graph vhost /", list: "amqp://h", vhost: "/", urls: []string{"amqp://h/%2F"}},
		{name: "no host", list: "amqp:///v", vhost: "g", urls: []string{"amqp:///v"}},
		{name: "list", list: "amqp://a:1x@h1:1, amqp://b:2y@h2:2/g ,amqps://h3", vhost: "g",
			urls: []string{"amqp://a:1x@h1:1/g", "amqp://b:2y@h2:2/g", "amqps://h3/g"}},
		{name: "escaped password", list: "amqp://u:p%2Fss@h/v", vhost: "g", urls: []string{"amqp://u:p%2Fss@h/v"}},
		{name: "unescaped @ in the password", list: "amqp://u:p@ss@h/v", vhost: "g", urls: []string{"amqp://u:p%40ss@h/v"}},
		{name: "unescaped /", list: "amqp://u:p/ss@h/v", errPart: "percent-encode"},
		{name: "unescaped #", list: "amqp://u:p#ss@h/v", errPart: "percent-encode"},
		{name: "unescaped # before a number", list: "amqp://u:1#ss@h/v", errPart: "percent-encode"},
		{name: "unescaped ?", list: "amqp://u:p?ss@h/v", errPart: "percent-encode"},
		{name: "unescaped ? after a number", list: "amqp://u:5?ss@h/v", errPart: "percent-encode"},
		{name: "http", list: "http://u:pass@h/v", errPart: `scheme "http": use amqp:// or amqps://`},
		{name: "no scheme", list: "u:pass@h:5672", errPart: "is not a URL"},
		{name: "port too big", list: "amqp://u:pass@h:99999/v", errPart: `port "99999"`},
		{name: "port zero", list: "amqp://h:0/v", errPart: `port "0"`},
		{name: "port not a number", list: "amqp://h:abc/v", errPart: "does not parse"},
		{name: "empty port", list: "amqp://h:/v", errPart: "empty port"},
		{name: "space", list: "amqp://u:p ss@h/v", errPart: "space"},
		{name: "trailing comma", list: "amqp://h1/v,", errPart: "(URL 2 of 2): empty URL"},
		{name: "bad query", list: "amqp://h/v?heartbeat=x", errPart: "heartbeat"},
		{name: "different vhosts", list: "amqp://h1/a,amqp://h2/b", errPart: "different vhosts"},
		{name: "second of three bad", list: "amqp://a:pw1@h1/v,amqp://b:pw2/x@h2/v,amqp://c:pw3@h3/v", errPart: "(URL 2 of 3): amqp://b:xxxxx@h2/v does not parse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eps, err := ParseEndpoints(tt.list, tt.vhost, "DGE_AMQP_URL")
			if tt.errPart != "" {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tt.errPart)
				}
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.errPart) || !strings.HasPrefix(err.Error(), "DGE_AMQP_URL") {
					t.Errorf("error %q: want ErrConfig, naming DGE_AMQP_URL, containing %q", err, tt.errPart)
				}
				for _, pw := range []string{"p/ss", "p#ss", "p?ss", "pass", "pw1", "pw2", "pw3", "1#ss", "5?ss"} {
					if strings.Contains(tt.list, ":"+pw+"@") && strings.Contains(err.Error(), pw) {
						t.Errorf("error %q holds the password %q", err, pw)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ep := range eps.list {
				got = append(got, ep.URL)
				if strings.Contains(ep.Name, "@") && !strings.Contains(ep.Name, "xxxxx") {
					t.Errorf("Name %q is not redacted", ep.Name)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.urls, " ") {
				t.Errorf("URLs %q, want %q", got, tt.urls)
			}
		})
	}
}

// TestWithVhost checks that NamedVhost tells a URL's own vhost from the
// default, and that WithVhost moves every URL to another vhost, escaped,
// keeping the password out of the names.
func TestWithVhost(t *testing.T) {
	for _, tt := range []struct {
		list, vhost string
		named       string // "" when the URLs name no vhost
		to          string
		urls        []string
	}{
		{list: "amqp://u:pw@h:5672", vhost: "g", to: "x y", urls: []string{"amqp://u:pw@h:5672/x%20y"}},
		{list: "amqp://u:pw@h:5672/", vhost: "g", to: "/", urls: []string{"amqp://u:pw@h:5672/%2F"}},
		{list: "amqp://h/%2F", vhost: "g", named: "/", to: "prod", urls: []string{"amqp://h/prod"}},
		{list: "amqp://u:pw@h1/a, amqps://h2/a?cacertfile=ca.pem", vhost: "g", named: "a", to: "b",
			urls: []string{"amqp://u:pw@h1/b", "amqps://h2/b?cacertfile=ca.pem"}},
	} {
		eps, err := ParseEndpoints(tt.list, tt.vhost, "DGE_AMQP_URL")
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := eps.NamedVhost(); v != tt.named || ok != (tt.named != "") {
			t.Errorf("%q: NamedVhost() = %q, %v; want %q", tt.list, v, ok, tt.named)
		}
		moved := eps.WithVhost(tt.to)
		var got []string
		for _, ep := range moved.list {
			got = append(got, ep.URL)
			if strings.Contains(ep.Name, "pw") {
				t.Errorf("Name %q holds the password", ep.Name)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.urls, " ") || moved.Vhost() != tt.to {
			t.Errorf("%q.WithVhost(%q): URLs %q, vhost %q; want %q", tt.list, tt.to, got, moved.Vhost(), tt.urls)
		}
		if v, _ := moved.NamedVhost(); v != tt.named {
			t.Errorf("%q.WithVhost(%q).NamedVhost() = %q, want the URLs' own %q", tt.list, tt.to, v, tt.named)
		}
	}
}

// TestRoundOrder checks that a round tries every endpoint once, skips the
// one just lost, and starts on each endpoint about as often.
func TestRoundOrder(t *testing.T) {
	eps, err := ParseEndpoints("amqp://h1/v,amqp://h2/v,amqp://h3/v", "v", "DGE_AMQP_URL")
	if err != nil {
		t.Fatal(err)
	}
	firsts := map[string]int{}
	const rounds = 3000
	for range rounds {
		r := eps.Round("")
		seen := map[string]bool{}
		for _, ep := range r {
			seen[ep.URL] = true
		}
		if len(r) != 3 || len(seen) != 3 {
			t.Fatalf("round %v: want each of the 3 endpoints once", r)
		}
		firsts[r[0].URL]++
		others := eps.Round(r[0].URL)
		if len(others) != 2 || others[0].URL == r[0].URL || others[1].URL == r[0].URL {
			t.Fatalf("round skipping %s: %v", r[0].URL, others)
		}
	}
	for u, n := range firsts {
		if n < rounds/3-200 || n > rounds/3+200 {
			t.Errorf("%s came first %d times in %d rounds, want about %d", u, n, rounds, rounds/3)
		}
	}
}

// TestDialErrorAdvice checks what DialError says about the failures a
// user can fix, and that it never prints the password.
func TestDialErrorAdvice(t *testing.T) {
	eps, err := ParseEndpoints("amqps://u:s3cr3t-pw@rabbit.example:5671/v?cacertfile=/ca.pem", "v", "DGE_AMQP_URL")
	if err != nil {
		t.Fatal(err)
	}
	ep := eps.Round("")[0]
	for _, tc := range []struct {
		name    string
		err     error
		want    string
		refused bool
	}{
		{"untrusted", fmt.Errorf("count: %w", x509.UnknownAuthorityError{}), "add cacertfile=", true},
		{"client certificate", errors.New(`Exception (501) Reason: "remote error: tls: certificate required"`), "requires a client certificate: add certfile=", true},
		{"plain port", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "rabbit.example:5671 does not speak TLS", true},
		{"closed port", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "the broker at rabbit.example:5671 refuses connections", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ep.DialError(tc.err)
			if !strings.Contains(got.Error(), tc.want) || errors.Is(got, ErrRefused) != tc.refused || strings.Contains(got.Error(), "s3cr3t-pw") {
				t.Errorf("DialError = %v (refused: %v); want it to contain %q, refused %v, and no password", got, errors.Is(got, ErrRefused), tc.want, tc.refused)
			}
		})
	}
}
