package mgmt

import (
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       []string
		broker    config.Broker
		endpoint  string
		user, pwd string
		errPart   string
	}{
		{name: "defaults", endpoint: "http://127.0.0.1:15672", user: "guest", pwd: "guest"},
		{name: "env URL with userinfo", env: []string{URLEnv + "=http://u:p%40ss@h:1/"}, endpoint: "http://h:1", user: "u", pwd: "p@ss"},
		{name: "env user and password", env: []string{URLEnv + "=https://h", UsernameEnv + "=u", PasswordEnv + "=p"}, endpoint: "https://h", user: "u", pwd: "p"},
		{name: "broker block wins", env: []string{URLEnv + "=http://env:1", UsernameEnv + "=eu"},
			broker: config.Broker{ManagementURL: "http://blk:2", Username: "bu", Password: "bp"}, endpoint: "http://blk:2", user: "bu", pwd: "bp"},
		{name: "not http", env: []string{URLEnv + "=amqp://x"}, errPart: URLEnv},
		{name: "username alone", env: []string{UsernameEnv + "=u"}, errPart: PasswordEnv + " is not"},
		{name: "password alone", env: []string{PasswordEnv + "=p"}, errPart: UsernameEnv + " is not"},
		{name: "env ignored under URL userinfo", env: []string{URLEnv + "=http://u:p@h", UsernameEnv + "=x"}, endpoint: "http://h", user: "u", pwd: "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Resolve(tc.env, tc.broker)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want one naming %s", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tc.endpoint || cfg.Username != tc.user || cfg.Password != tc.pwd {
				t.Errorf("got %s %s (password %v), want %s %s", cfg.Endpoint, cfg.Username, cfg.Password == tc.pwd, tc.endpoint, tc.user)
			}
		})
	}
}

func TestAMQPURLDerived(t *testing.T) {
	u, _, explicit := AMQPURL(nil, config.Broker{}, Config{Endpoint: "http://h:15672", Username: "u", Password: "p"}, "/")
	if explicit || u != "amqp://u:p@h:5672/%2F" {
		t.Errorf("AMQPURL = %q, %v; want amqp://u:p@h:5672/%%2F, false", u, explicit)
	}
	u, _, explicit = AMQPURL(nil, config.Broker{}, Config{Endpoint: "http://h1:15701,https://h2:15702", Username: "u", Password: "p"}, "v")
	if explicit || u != "amqp://u:p@h1:5672/v,amqps://u:p@h2:5671/v" {
		t.Errorf("AMQPURL = %q, %v; want one URL per management endpoint, false", u, explicit)
	}
	u, from, explicit := AMQPURL([]string{AMQPURLEnv + "=amqp://x/"}, config.Broker{}, Config{}, "v")
	if !explicit || u != "amqp://x/" || from != AMQPURLEnv {
		t.Errorf("AMQPURL = %q, %q, %v; want the variable, its name, true", u, from, explicit)
	}
}

func TestErrorsNeverHoldThePassword(t *testing.T) {
	c, err := New(Config{Endpoint: "http://h", Username: "u", Password: "s3cr3t-pw"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.statusError("op", "v", 400, "bad thing s3cr3t-pw")
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error holds the password: %v", err)
	}
}

func TestResolveTLS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		errPart string
	}{
		{"CA over https", []string{URLEnv + "=https://h:15671", CACertEnv + "=/ca.pem"}, ""},
		{"certificate without key", []string{URLEnv + "=https://h:15671", CertEnv + "=/c.pem"}, KeyEnv + " is not"},
		{"key without certificate", []string{URLEnv + "=https://h:15671", KeyEnv + "=/c.key"}, CertEnv + " is not"},
		{"TLS over http", []string{URLEnv + "=http://h:15672", CACertEnv + "=/ca.pem"}, "is not https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Resolve(tc.env, config.Broker{})
			if tc.errPart == "" {
				if err != nil || cfg.CACert != "/ca.pem" {
					t.Errorf("Resolve = %+v, %v; want the CA file", cfg.CACert, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("err = %v, want one containing %q", err, tc.errPart)
			}
		})
	}
	// A file that cannot be read is named with its variable.
	_, err := New(Config{Endpoint: "https://h", Username: "u", Password: "p", CACert: "/no/such/ca.pem"}, Options{})
	if err == nil || !strings.Contains(err.Error(), CACertEnv) || !strings.Contains(err.Error(), "/no/such/ca.pem") {
		t.Errorf("New with a missing CA file: %v; want an error naming %s and the file", err, CACertEnv)
	}
	u, _, _ := AMQPURL(nil, config.Broker{}, Config{Endpoint: "https://h:15671", Username: "u", Password: "p", CACert: "/ca.pem", Cert: "/c.pem", Key: "/c.key"}, "v")
	if u != "amqps://u:p@h:5671/v?cacertfile=%2Fca.pem&certfile=%2Fc.pem&keyfile=%2Fc.key" {
		t.Errorf("derived AMQP URL = %s; want amqps on 5671 with the same files", u)
	}
}
