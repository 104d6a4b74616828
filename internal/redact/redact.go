// Package redact keeps passwords out of what dge and the programs it
// generates print: URL redaction and the scrubbing of error text and logs.
// It depends on the standard library only, so the runtime, dge's own
// commands and the management client can all use it.
package redact

import (
	"encoding/json"
	"io"
	"net/url"
	"strings"
)

// mask replaces a password.
const mask = "xxxxx"

// URL returns s, one URL or several separated by commas, with each
// password replaced by xxxxx. It works on URLs that do not parse, such as a
// password holding an unescaped / # @ or ?: in each element, everything
// between "://" and the last "@" is user information; the user name before
// its first ":" is kept, and the rest replaced (all of it when there is no
// ":"). Use it on every URL that reaches a log, an error or a plan.
func URL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = one(p)
	}
	return strings.Join(parts, ",")
}

func one(s string) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 {
		start = i + 3
	}
	at := strings.LastIndexByte(s[start:], '@')
	if at < 0 {
		return s
	}
	userinfo := s[start : start+at]
	repl := mask
	if user, _, ok := strings.Cut(userinfo, ":"); ok && !strings.ContainsAny(user, "/?#@") {
		repl = user + ":" + mask
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
		if r := one(el); r != el {
			text = strings.ReplaceAll(text, el, r)
		}
	}
	for _, p := range secrets(list) {
		text = strings.ReplaceAll(text, p, mask)
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

// writer writes through w with Scrub applied for list: the last guard
// that keeps a password out of a program's stderr.
type writer struct {
	w    io.Writer
	list string
}

// Writer returns a writer that writes through w with Scrub applied for
// list to each write, or w itself when list holds no password.
func Writer(w io.Writer, list string) io.Writer {
	if len(secrets(list)) == 0 && URL(list) == list {
		return w
	}
	return &writer{w: w, list: list}
}

func (s *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, Scrub(string(p), s.list)); err != nil {
		return 0, err
	}
	return len(p), nil
}
