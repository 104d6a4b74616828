package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"strings"

	"github.com/dgehq/dge/internal/redact"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrConfig is wrapped by errors in a program's configuration that no retry
// can fix: a broker URL that does not parse, a scheme other than amqp or
// amqps, a port that is not a number from 1 to 65535.
var ErrConfig = errors.New("invalid configuration")

// configError is a permanent configuration error: one line that names the
// setting and says what to fix, never a password.
type configError struct{ msg string }

func (e configError) Error() string { return e.msg }
func (e configError) Unwrap() error { return ErrConfig }

// Endpoints is a list of broker URLs, the nodes of one cluster. Each
// connection goes to one of them, picked at random so that instances spread
// over the cluster; when it cannot be reached, or a connection to it is
// lost, the others are tried at once. Endpoints never prints a password:
// names and String are redacted, and Scrub hides them in any text.
type Endpoints struct {
	list  []Endpoint
	raw   string // as written, for Scrub
	vhost string
	// path is the vhost the URLs' path names, when named.
	path  string
	named bool
}

// Endpoint is one URL of an Endpoints list.
type Endpoint struct {
	// URL is the broker's URL with the vhost as its path. It holds the
	// password: never print it; print Name.
	URL string
	// Name is URL with its password replaced by xxxxx.
	Name string
}

// ParseEndpoints parses list: one AMQP URL, or several separated by commas
// (spaces around them are ignored). A URL without a path, or with the path
// "/", connects to vhost; write %2F for the vhost "/" itself. from names the
// setting list came from (e.g. "DGE_AMQP_URL") in errors, which wrap
// ErrConfig, say what to fix and never hold a password.
func ParseEndpoints(list, vhost, from string) (*Endpoints, error) {
	parts := strings.Split(list, ",")
	eps := &Endpoints{raw: list}
	for i, raw := range parts {
		where := from
		if len(parts) > 1 {
			where = fmt.Sprintf("%s (URL %d of %d)", from, i+1, len(parts))
		}
		s := strings.TrimSpace(raw)
		if s == "" {
			return nil, configError{fmt.Sprintf("%s: empty URL: separate URLs with single commas, with none at the end", where)}
		}
		ep, v, named, err := parseEndpoint(s, vhost)
		if err != nil {
			return nil, configError{redact.Scrub(fmt.Sprintf("%s: %s %v", where, redact.URL(s), err), list)}
		}
		if i > 0 && v != eps.vhost {
			return nil, configError{fmt.Sprintf("%s: the URLs name different vhosts (%q and %q): give them all the same vhost, or no path to use the graph's (%q)",
				from, eps.vhost, v, vhost)}
		}
		eps.vhost, eps.named = v, named
		if named {
			eps.path = v
		}
		eps.list = append(eps.list, ep)
	}
	return eps, nil
}

// parseEndpoint checks one AMQP URL and returns it with the vhost resolved,
// and whether its path named that vhost. Its errors complete a sentence
// that starts with the redacted URL.
func parseEndpoint(s, vhost string) (ep Endpoint, v string, named bool, err error) {
	const encode = "percent-encode / # @ ? : % in the user name and password (/ is %2F, # is %23, @ is %40, ? is %3F, : is %3A, % is %25)"
	if strings.ContainsAny(s, " \t\r\n") {
		return Endpoint{}, "", false, errors.New("contains a space: remove it, or write it %20")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, "", false, errors.New("is not a URL: write amqp://user:password@host:5672/vhost")
	}
	if scheme != "amqp" && scheme != "amqps" {
		if !isSchemeName(scheme) {
			return Endpoint{}, "", false, errors.New("does not start with amqp:// or amqps://")
		}
		return Endpoint{}, "", false, fmt.Errorf("has the scheme %q: use amqp:// or amqps://", scheme)
	}
	hasUserinfo := strings.Contains(rest, "@")
	u, err := url.Parse(s)
	if err != nil {
		if hasUserinfo {
			return Endpoint{}, "", false, errors.New("does not parse: " + encode)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the quoted URL
		}
		return Endpoint{}, "", false, fmt.Errorf("does not parse: %v", err)
	}
	if (hasUserinfo && u.User == nil) || u.Fragment != "" || strings.Contains(s, "#") {
		// The user information ended early, at a reserved character.
		return Endpoint{}, "", false, errors.New("does not parse as intended: " + encode)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Endpoint{}, "", false, fmt.Errorf("has the port %q: use a number from 1 to 65535 (5672 for amqp, 5671 for amqps)", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Endpoint{}, "", false, errors.New("has an empty port: remove the colon or give a number from 1 to 65535")
	}
	uri, err := amqp.ParseURI(s)
	if err != nil {
		return Endpoint{}, "", false, fmt.Errorf("is not a valid AMQP URL: %v", err)
	}
	v = vhost
	if u.Path != "" && u.Path != "/" {
		v, named = uri.Vhost, true
	}
	return withVhost(u, v), v, named, nil
}

// withVhost returns the endpoint of URL u with the path v.
func withVhost(u *url.URL, v string) Endpoint {
	u.Path = "/" + v
	u.RawPath = "/" + url.PathEscape(v)
	r := u.String()
	return Endpoint{URL: r, Name: redact.URL(r)}
}

// isSchemeName reports whether s is a URL scheme as RFC 3986 spells it, so
// that printing it cannot print a password.
func isSchemeName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// Len returns the number of endpoints.
func (e *Endpoints) Len() int { return len(e.list) }

// Vhost returns the vhost every endpoint connects to.
func (e *Endpoints) Vhost() string { return e.vhost }

// NamedVhost returns the vhost the URLs' path names and true, or "" and
// false when they have no path (or the path "/") and so connect to the
// vhost ParseEndpoints was given.
func (e *Endpoints) NamedVhost() (string, bool) {
	return e.path, e.named
}

// WithVhost returns the endpoints with every URL's path set to vhost,
// whatever path they had: the vhost chosen by a setting that overrides the
// URL's (a program's -vhost or DGE_VHOST). NamedVhost of the result still
// reports the URLs' own path.
func (e *Endpoints) WithVhost(vhost string) *Endpoints {
	out := &Endpoints{raw: e.raw, vhost: vhost, path: e.path, named: e.named, list: make([]Endpoint, len(e.list))}
	for i, ep := range e.list {
		u, err := url.Parse(ep.URL)
		if err != nil { // cannot happen: ep.URL is a URL ParseEndpoints built
			out.list[i] = ep
			continue
		}
		out.list[i] = withVhost(u, vhost)
	}
	return out
}

// String returns the endpoints, redacted, separated by commas.
func (e *Endpoints) String() string {
	names := make([]string, len(e.list))
	for i, ep := range e.list {
		names[i] = ep.Name
	}
	return strings.Join(names, ",")
}

// Round returns the endpoints in the order one round of connection attempts
// tries them, each once: a random order, without the endpoint whose URL is
// skip (the one whose connection was just lost; "" for none).
func (e *Endpoints) Round(skip string) []Endpoint {
	out := make([]Endpoint, 0, len(e.list))
	for _, i := range mrand.Perm(len(e.list)) {
		if e.list[i].URL != skip || skip == "" {
			out = append(out, e.list[i])
		}
	}
	return out
}

// Transport returns the AMQP transport to e's endpoints. When log is not
// nil, it logs when the broker blocks publishers on a connection (a
// resource alarm) and when it stops.
func (e *Endpoints) Transport(log *slog.Logger) AMQP {
	a := AMQP{URL: e.raw, Vhost: e.vhost, eps: e}
	if log != nil {
		a.onBlocked = blockedNotice(log, nil)
	}
	return a
}

// Scrub returns text with every URL of the endpoints and every password in
// them replaced, as redact.Scrub does.
func (e *Endpoints) Scrub(text string) string { return redact.Scrub(text, e.raw) }
