package mgmt

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/redact"
)

// The environment variables Resolve reads.
const (
	URLEnv      = "DGE_MANAGEMENT_URL"
	UsernameEnv = "DGE_MANAGEMENT_USERNAME"
	PasswordEnv = "DGE_MANAGEMENT_PASSWORD"
	AMQPURLEnv  = "DGE_AMQP_URL"
)

// DefaultURL is the management API dge talks to when nothing says otherwise.
const DefaultURL = "http://127.0.0.1:15672"

// Config says where the management API is and how to log in.
type Config struct {
	// Endpoint is the API's base URL without credentials or trailing slash,
	// e.g. http://127.0.0.1:15672; for a cluster, several such URLs
	// separated by commas, tried in that order (see Client).
	Endpoint string
	Username string
	Password string // never printed
	// CACert, Cert and Key name PEM files for an https:// API: the CA
	// that signed its certificate (trusted besides the system's), and a
	// client certificate with its key (see CACertEnv).
	CACert, Cert, Key string
}

// endpoints returns the base URLs of Endpoint.
func (c Config) endpoints() []string { return strings.Split(c.Endpoint, ",") }

// Resolve works out the management API endpoints and credentials.
//
// The endpoint is the broker block's management_url when set, else
// DGE_MANAGEMENT_URL, else DefaultURL: one URL, or several separated by
// commas (the nodes of a cluster). Credentials come from the first of: the
// URLs' userinfo (the same on every URL that has one: a cluster's nodes
// share their users); the broker block's username and password;
// DGE_MANAGEMENT_USERNAME and DGE_MANAGEMENT_PASSWORD (both, or neither:
// one without the other is an error naming the missing one); guest/guest.
// TLS settings come from DGE_MANAGEMENT_CACERT, DGE_MANAGEMENT_CERT and
// DGE_MANAGEMENT_KEY. Errors name the setting and never hold a password.
func Resolve(environ []string, b config.Broker) (Config, error) {
	env := envMap(environ)
	raw, from := b.ManagementURL, "the broker block's management_url"
	if raw == "" {
		raw, from = env[URLEnv], URLEnv
	}
	if raw == "" {
		raw, from = DefaultURL, "the default"
	}
	parts := strings.Split(raw, ",")
	var endpoints []string
	var user *url.Userinfo
	for i, part := range parts {
		where := from
		if len(parts) > 1 {
			where = fmt.Sprintf("%s (URL %d of %d)", from, i+1, len(parts))
		}
		u, err := parseEndpoint(strings.TrimSpace(part))
		if err != nil {
			return Config{}, fmt.Errorf("management URL from %s: %s %v; fix %s", where, redact.URL(strings.TrimSpace(part)), err, from)
		}
		if u.User != nil {
			if user != nil && user.String() != u.User.String() {
				return Config{}, fmt.Errorf("management URLs from %s carry different credentials; a cluster's nodes share their users: give one user:password, or set %s and %s", from, UsernameEnv, PasswordEnv)
			}
			user = u.User
		}
		u.User = nil
		endpoints = append(endpoints, strings.TrimSuffix(u.String(), "/"))
	}
	cfg := Config{Endpoint: strings.Join(endpoints, ",")}
	switch {
	case user != nil:
		cfg.Username = user.Username()
		cfg.Password, _ = user.Password()
	case b.Username != "" || b.Password != "":
		cfg.Username, cfg.Password = b.Username, b.Password
	case env[UsernameEnv] != "" && env[PasswordEnv] != "":
		cfg.Username, cfg.Password = env[UsernameEnv], env[PasswordEnv]
	case env[UsernameEnv] != "":
		return Config{}, fmt.Errorf("%s is set but %s is not: set both (or neither, for guest/guest)", UsernameEnv, PasswordEnv)
	case env[PasswordEnv] != "":
		return Config{}, fmt.Errorf("%s is set but %s is not: set both (or neither, for guest/guest)", PasswordEnv, UsernameEnv)
	default:
		cfg.Username, cfg.Password = "guest", "guest"
	}
	if err := resolveTLS(env, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseEndpoint checks one management URL. Its errors complete a sentence
// that starts with the redacted URL, and never quote it.
func parseEndpoint(s string) (*url.URL, error) {
	const example = "write http://user:password@host:15672"
	const encode = "percent-encode / # @ ? : % in the user name and password (/ is %2F, # is %23, @ is %40, ? is %3F)"
	if s == "" {
		return nil, errors.New("is empty: separate URLs with single commas, with none at the end")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, errors.New("is not an http(s) URL: " + example)
	}
	hasUserinfo := strings.Contains(rest, "@")
	u, err := url.Parse(s)
	if err != nil || (hasUserinfo && u.User == nil) || strings.ContainsAny(s, "#") {
		if hasUserinfo {
			return nil, errors.New("does not parse: " + encode)
		}
		return nil, errors.New("does not parse: " + example)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("has no host: " + example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("has the port %q: use a number from 1 to 65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, errors.New("has an empty port: remove the colon or give a number from 1 to 65535")
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// AMQPURL returns the AMQP URLs to count messages exactly before a delete:
// the broker block's amqp_url, else DGE_AMQP_URL, else URLs derived from
// the management endpoints' hosts (port 5672, the management credentials,
// the vhost; amqps on 5671 with the management API's CA and client
// certificate for an https:// endpoint), one per endpoint. from names the setting for errors;
// explicit reports whether the user named it.
func AMQPURL(environ []string, b config.Broker, cfg Config, vhost string) (u, from string, explicit bool) {
	env := envMap(environ)
	if b.AMQPURL != "" {
		return b.AMQPURL, "the broker block's amqp_url", true
	}
	if s := env[AMQPURLEnv]; s != "" {
		return s, AMQPURLEnv, true
	}
	var list []string
	for _, e := range cfg.endpoints() {
		ep, err := url.Parse(e)
		if err != nil {
			continue
		}
		scheme, port := "amqp", "5672"
		if ep.Scheme == "https" {
			scheme, port = "amqps", "5671"
		}
		d := url.URL{Scheme: scheme, User: url.UserPassword(cfg.Username, cfg.Password), Host: net.JoinHostPort(ep.Hostname(), port), Path: "/" + vhost}
		d.RawPath = "/" + url.PathEscape(vhost)
		if scheme == "amqps" {
			d.RawQuery = tlsQuery(cfg)
		}
		list = append(list, d.String())
	}
	return strings.Join(list, ","), "the AMQP URL derived from the management URL", false
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
