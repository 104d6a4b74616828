package console

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenCookie is the cookie that carries the actions' token.
const TokenCookie = "dge_console_token"

// contentSecurityPolicy allows the console's own files only: no inline
// script or style, no framing, no form or fetch elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// guard sets the security headers on every response, refuses a request
// whose Host names another server, and takes a token from the query.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if !s.ownHost(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("this is dge console at %s, not %q: open %s", s.cfg.Addr, r.Host, "http://"+s.cfg.Addr+"/"))
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Has("token") {
			s.takeToken(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownHost reports whether host (a Host header) names the console: its
// address, or localhost, 127.0.0.1 or [::1], with its port. When it
// listens on every interface (0.0.0.0, ::), any IP address with its port
// does too: a DNS rebinding attack needs a name.
func (s *Server) ownHost(host string) bool {
	if strings.EqualFold(host, s.cfg.Addr) {
		return true
	}
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = strings.Trim(host, "[]"), "80"
	}
	if port != s.port {
		return false
	}
	switch strings.ToLower(h) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	listen, _, _ := net.SplitHostPort(s.cfg.Addr)
	if ip := net.ParseIP(listen); listen == "" || ip != nil && ip.IsUnspecified() {
		return net.ParseIP(h) != nil
	}
	return false
}

// takeToken answers GET PAGE?token=T: with the right token it sets the
// cookie and redirects to the page without the token; a wrong one is
// refused.
func (s *Server) takeToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	given := q.Get("token")
	q.Del("token")
	if s.token != "" {
		if !s.validToken(given) {
			http.Error(w, "wrong token: open the URL dge console printed when it started", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	to := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, to.String(), http.StatusSeeOther)
}

func (s *Server) validToken(t string) bool {
	return s.token != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// action wraps an action's handler: it refuses the request, changing
// nothing, unless actions are allowed, the request carries the token,
// says it sends JSON and comes from the console's own pages.
func (s *Server) action(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := s.refuse(r); msg != "" {
			s.log.Warn("action refused", "path", r.URL.Path, "why", msg)
			writeError(w, http.StatusForbidden, msg)
			return
		}
		next(w, r)
	}
}

// refuse returns why the action request r is refused, or "".
func (s *Server) refuse(r *http.Request) string {
	if !s.cfg.AllowActions {
		return "actions are off: start dge console with -allow-actions"
	}
	given := ""
	if c, err := r.Cookie(TokenCookie); err == nil {
		given = c.Value
	}
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = strings.TrimSpace(auth)
	}
	if !s.validToken(given) {
		return "no valid token: open the URL with ?token= that dge console printed when it started"
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return "an action must be sent as Content-Type: application/json"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return fmt.Sprintf("an action from origin %q is refused: only the console's own pages (http://%s) may act", o, r.Host)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Sprintf("a %s action is refused: only the console's own pages may act", site)
	}
	return ""
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
