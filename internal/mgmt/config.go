package mgmt

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/dgehq/dge/config"
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
	// e.g. http://127.0.0.1:15672.
	Endpoint string
	Username string
	Password string // never printed
}

// Resolve works out the management API endpoint and credentials.
//
// The endpoint is the broker block's management_url when set, else
// DGE_MANAGEMENT_URL, else DefaultURL. Credentials come from the first of:
// the chosen URL's userinfo; the broker block's username and password;
// DGE_MANAGEMENT_USERNAME and DGE_MANAGEMENT_PASSWORD; guest/guest.
func Resolve(environ []string, b config.Broker) (Config, error) {
	env := envMap(environ)
	raw, from := b.ManagementURL, "the broker block's management_url"
	if raw == "" {
		raw, from = env[URLEnv], URLEnv
	}
	if raw == "" {
		raw, from = DefaultURL, "the default"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Config{}, fmt.Errorf("management URL from %s is not an http(s) URL like http://127.0.0.1:15672; fix %s", from, from)
	}
	cfg := Config{}
	switch {
	case u.User != nil:
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	case b.Username != "" || b.Password != "":
		cfg.Username, cfg.Password = b.Username, b.Password
	case env[UsernameEnv] != "" || env[PasswordEnv] != "":
		cfg.Username, cfg.Password = env[UsernameEnv], env[PasswordEnv]
	default:
		cfg.Username, cfg.Password = "guest", "guest"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	cfg.Endpoint = strings.TrimSuffix(u.String(), "/")
	return cfg, nil
}

// AMQPURL returns the AMQP URL to count messages exactly before a delete:
// the broker block's amqp_url, else DGE_AMQP_URL, else one derived from the
// management endpoint's host (port 5672, the management credentials, the
// vhost). explicit reports whether the user named it.
func AMQPURL(environ []string, b config.Broker, cfg Config, vhost string) (u string, explicit bool) {
	env := envMap(environ)
	if b.AMQPURL != "" {
		return b.AMQPURL, true
	}
	if s := env[AMQPURLEnv]; s != "" {
		return s, true
	}
	ep, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return "", false
	}
	scheme := "amqp"
	if ep.Scheme == "https" {
		scheme = "amqps"
	}
	d := url.URL{Scheme: scheme, User: url.UserPassword(cfg.Username, cfg.Password), Host: ep.Hostname() + ":5672", Path: "/" + vhost}
	if scheme == "amqps" {
		d.Host = ep.Hostname() + ":5671"
	}
	d.RawPath = "/" + url.PathEscape(vhost)
	return d.String(), false
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
