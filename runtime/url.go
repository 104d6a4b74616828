package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"strings"

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
// lost, the others are tried at once. Endpoints never prints a password: see
// RedactURL and Scrub.
type Endpoints struct {
	list  []Endpoint
	raw   string // as written, for Scrub
	vhost string
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
		ep, v, err := parseEndpoint(s, vhost)
		if err != nil {
			return nil, configError{Scrub(fmt.Sprintf("%s: %s %v", where, RedactURL(s), err), list)}
		}
		if i > 0 && v != eps.vhost {
			return nil, configError{fmt.Sprintf("%s: the URLs name different vhosts (%q and %q): give them all the same vhost, or no path to use the graph's (%q)",
				from, eps.vhost, v, vhost)}
		}
		eps.vhost = v
		eps.list = append(eps.list, ep)
	}
	return eps, nil
}

// parseEndpoint checks one AMQP URL and returns it with the vhost resolved.
// Its errors complete a sentence that starts with the redacted URL.
func parseEndpoint(s, vhost string) (Endpoint, string, error) {
	const encode = "percent-encode / # @ ? : % in the user name and password (/ is %2F, # is %23, @ is %40, ? is %3F, : is %3A, % is %25)"
	if strings.ContainsAny(s, " \t\r\n") {
		return Endpoint{}, "", errors.New("contains a space: remove it, or write it %20")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, "", errors.New("is not a URL: write amqp://user:password@host:5672/vhost")
	}
	if scheme != "amqp" && scheme != "amqps" {
		if !isSchemeName(scheme) {
			return Endpoint{}, "", errors.New("does not start with amqp:// or amqps://")
		}
		return Endpoint{}, "", fmt.Errorf("has the scheme %q: use amqp:// or amqps://", scheme)
	}
	hasUserinfo := strings.Contains(rest, "@")
	u, err := url.Parse(s)
	if err != nil {
		if hasUserinfo {
			return Endpoint{}, "", errors.New("does not parse: " + encode)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the quoted URL
		}
		return Endpoint{}, "", fmt.Errorf("does not parse: %v", err)
	}
	if (hasUserinfo && u.User == nil) || u.Fragment != "" || strings.Contains(s, "#") {
		// The user information ended early, at a reserved character.
		return Endpoint{}, "", errors.New("does not parse as intended: " + encode)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Endpoint{}, "", fmt.Errorf("has the port %q: use a number from 1 to 65535 (5672 for amqp, 5671 for amqps)", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Endpoint{}, "", errors.New("has an empty port: remove the colon or give a number from 1 to 65535")
	}
	uri, err := amqp.ParseURI(s)
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("is not a valid AMQP URL: %v", err)
	}
	v := vhost
	if u.Path != "" && u.Path != "/" {
		v = uri.Vhost
	}
	u.Path = "/" + v
	u.RawPath = "/" + url.PathEscape(v)
	r := u.String()
	return Endpoint{URL: r, Name: RedactURL(r)}, v, nil
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

// Scrub returns text with every URL of the endpoints and every password in
// them replaced as Scrub does.
func (e *Endpoints) Scrub(text string) string { return Scrub(text, e.raw) }

// redacted replaces a password.
const redacted = "xxxxx"

// RedactURL returns s, one URL or several separated by commas, with each
// password replaced by xxxxx. It works on URLs that do not parse, such as a
// password holding an unescaped / # @ or ?: in each element, everything
// between "://" and the last "@" is user information; the user name before
// its first ":" is kept, and the rest replaced (all of it when there is no
// ":"). Use it on every URL that reaches a log, an error or a plan.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	at := strings.LastIndexByte(s[start:], '@')
	if at < 0 {
		return s
	}
	userinfo := s[start : start+at]
	repl := redacted
	if user, _, ok := strings.Cut(userinfo, ":"); ok && !strings.ContainsAny(user, "/?#@") {
		repl = user + ":" + redacted
	}
	return s[:start] + repl + s[start+at:]
}

// Scrub returns text with every URL of list (one URL, or several separated
// by commas, parsable or not) replaced by its redacted form, and every
// password in list replaced by xxxxx, in the forms it takes in error text
// and logs: as written, percent-decoded and -encoded, JSON-escaped, and the
// pieces of it between reserved characters (Go's url.Parse quotes the URL
// up to a "#"). Passwords shorter than 4 characters, or equal to their user
// name, are left alone elsewhere in text: replacing them would garble it.
func Scrub(text, list string) string {
	if list == "" || !strings.Contains(list, "@") {
		return text
	}
	for _, el := range strings.Split(list, ",") {
		el = strings.TrimSpace(el)
		if r := redactOne(el); r != el {
			text = strings.ReplaceAll(text, el, r)
		}
	}
	for _, p := range secrets(list) {
		text = strings.ReplaceAll(text, p, redacted)
	}
	return text
}

// secrets returns the passwords of list in every form Scrub replaces,
// longest first.
func secrets(list string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p, user string) {
		if len(p) < 4 || p == user || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, p)
	}
	for _, el := range strings.Split(list, ",") {
		el = strings.TrimSpace(el)
		start := 0
		if i := strings.Index(el, "://"); i >= 0 {
			start = i + 3
		}
		at := strings.LastIndexByte(el[start:], '@')
		if at < 0 {
			continue
		}
		user, pass, ok := strings.Cut(el[start:start+at], ":")
		if !ok {
			pass, user = user, ""
		}
		forms := []string{pass}
		if d, err := url.PathUnescape(pass); err == nil {
			forms = append(forms, d)
		}
		for _, f := range forms {
			add(f, user)
			add(url.QueryEscape(f), user)
			add(url.PathEscape(f), user)
			add(url.UserPassword("", f).String()[1:], user)
			add(jsonEscape(f), user)
			for _, piece := range strings.FieldsFunc(f, func(r rune) bool { return strings.ContainsRune("/#?@:", r) }) {
				add(piece, user)
			}
		}
	}
	// Longest first, so a password is replaced whole before its pieces.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// jsonEscape returns s as it appears inside a JSON string.
func jsonEscape(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	q := strings.TrimSpace(b.String())
	return q[1 : len(q)-1]
}

// scrubWriter writes through w with Scrub applied for list: the last guard
// that keeps a password out of a program's stderr.
type scrubWriter struct {
	w    io.Writer
	list string
}

// newScrubWriter returns w itself when list holds no password.
func newScrubWriter(w io.Writer, list string) io.Writer {
	if len(secrets(list)) == 0 && RedactURL(list) == list {
		return w
	}
	return &scrubWriter{w: w, list: list}
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, Scrub(string(p), s.list)); err != nil {
		return 0, err
	}
	return len(p), nil
}
