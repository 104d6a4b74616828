package mgmt

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgehq/dge/config"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// server answers every request with status and counts them; it records
// the last request's path and credentials.
type server struct {
	*httptest.Server
	hits     atomic.Int64
	path     atomic.Value
	userPass atomic.Value
}

func newServer(t *testing.T, status int, body string) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.path.Store(r.URL.EscapedPath())
		u, p, _ := r.BasicAuth()
		s.userPass.Store(u + ":" + p)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestClientFailsOverOnlyWhenUnreachable: a request goes to the next
// endpoint when one refuses the connection, stays with the endpoint that
// answered, and does not move on an HTTP error answer.
func TestClientFailsOverOnlyWhenUnreachable(t *testing.T) {
	ok := newServer(t, http.StatusOK, `{"exchanges":[],"queues":[],"bindings":[],"policies":[]}`)
	cfg, err := Resolve([]string{URLEnv + "=http://u:pw-1234@" + closedAddr(t) + "," + ok.URL + "/prefix"}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	for range 3 {
		if err := c.getJSON(t.Context(), "read", "/", "definitions/%2F", nil, &v); err != nil {
			t.Fatalf("with the first endpoint down: %v", err)
		}
	}
	if got := ok.path.Load(); got != "/prefix/api/definitions/%2F" {
		t.Errorf("the second endpoint got path %v, want its prefix and the escaped vhost", got)
	}
	if got := ok.userPass.Load(); got != "u:pw-1234" {
		t.Errorf("credentials %v, want the URL's", got)
	}
	if ok.hits.Load() != 3 {
		t.Errorf("second endpoint hit %d times, want 3", ok.hits.Load())
	}

	refusing := newServer(t, http.StatusServiceUnavailable, `{"error":"unavailable","reason":"node down"}`)
	spare := newServer(t, http.StatusOK, `{}`)
	cfg, err = Resolve([]string{URLEnv + "=" + refusing.URL + "," + spare.URL}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	c, err = New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.getJSON(t.Context(), "read", "/", "definitions/%2F", nil, &v)
	if err == nil || !strings.Contains(err.Error(), "503") || spare.hits.Load() != 0 {
		t.Errorf("an HTTP error answer: err %v, spare hit %d times; want the 503 and no failover", err, spare.hits.Load())
	}

	cfg, err = Resolve([]string{URLEnv + "=http://" + closedAddr(t) + ",http://" + closedAddr(t)}, config.Broker{})
	if err != nil {
		t.Fatal(err)
	}
	c, err = New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.getJSON(t.Context(), "read", "/", "definitions/%2F", nil, &v)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the RabbitMQ management API at any of") {
		t.Errorf("all endpoints down: %v", err)
	}
}

// TestResolveLists checks URL lists and that no error holds a password.
func TestResolveLists(t *testing.T) {
	for _, tt := range []struct {
		name, list, endpoint, user, pwd, errPart string
		secrets                                  []string
	}{
		{name: "list", list: "http://u:p%2Fss@h1:15701, http://h2:15702/,https://u:p%2Fss@h3", endpoint: "http://h1:15701,http://h2:15702,https://h3", user: "u", pwd: "p/ss"},
		{name: "different credentials", list: "http://u:pw-one1@h1,http://u:pw-two2@h2", errPart: "different credentials", secrets: []string{"pw-one1", "pw-two2"}},
		{name: "unescaped /", list: "http://u:p/ss@h1:15672", errPart: "percent-encode", secrets: []string{"p/ss"}},
		{name: "unescaped #", list: "http://u:p#ss@h1:15672", errPart: "percent-encode", secrets: []string{"p#ss"}},
		{name: "unescaped # after digits", list: "http://u:1#ss@h1:15672", errPart: "percent-encode", secrets: []string{"1#ss"}},
		{name: "unescaped ?", list: "http://u:p?ss@h1:15672", errPart: "percent-encode", secrets: []string{"p?ss"}},
		{name: "three passwords", list: "http://a:pw1/one@h1,http://b:pw2#two@h2,http://c:pw3?three@h3", errPart: "URL 1 of 3", secrets: []string{"pw1/one", "pw2#two", "pw3?three"}},
		{name: "port", list: "http://u:secret9@h1:99999", errPart: `port "99999"`, secrets: []string{"secret9"}},
		{name: "trailing comma", list: "http://h1,", errPart: "URL 2 of 2", secrets: nil},
		{name: "amqp", list: "amqp://u:secret9@h1", errPart: "not an http(s) URL", secrets: []string{"secret9"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Resolve([]string{URLEnv + "=" + tt.list}, config.Broker{})
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) || !strings.Contains(err.Error(), URLEnv) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, URLEnv, tt.errPart)
				}
				for _, s := range tt.secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q holds the password %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tt.endpoint || cfg.Username != tt.user || cfg.Password != tt.pwd {
				t.Errorf("got %s %s (password right: %v), want %s %s", cfg.Endpoint, cfg.Username, cfg.Password == tt.pwd, tt.endpoint, tt.user)
			}
		})
	}
}
