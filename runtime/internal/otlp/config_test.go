package otlp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndpoint checks where the client POSTs for each setting of the two
// endpoint variables, and the errors of URLs it cannot use.
func TestEndpoint(t *testing.T) {
	for _, tt := range []struct {
		generic, traces string
		want            string
	}{
		{"", "", "http://localhost:4318/v1/traces"},
		{"http://collector:4318", "", "http://collector:4318/v1/traces"},
		{"http://collector:4318/", "", "http://collector:4318/v1/traces"},
		{"  https://collector/otlp/  ", "", "https://collector/otlp/v1/traces"},
		{"HTTPS://collector/otlp", "", "https://collector/otlp/v1/traces"},
		{"http://collector:4318", "https://traces:443/custom/path", "https://traces:443/custom/path"},
		{"", "http://traces:4318", "http://traces:4318/"},
		{"", "http://traces:4318/v1/traces?tenant=a", "http://traces:4318/v1/traces?tenant=a"},
	} {
		cleanEnv(t)
		t.Setenv(prefix+"ENDPOINT", tt.generic)
		t.Setenv(prefix+"TRACES_ENDPOINT", tt.traces)
		c, err := NewClient()
		if err != nil {
			t.Errorf("%q, %q: %v", tt.generic, tt.traces, err)
			continue
		}
		if got := c.Endpoint(); got != tt.want {
			t.Errorf("ENDPOINT %q, TRACES_ENDPOINT %q: endpoint %s, want %s", tt.generic, tt.traces, got, tt.want)
		}
	}
	for _, tt := range []struct{ name, value, want string }{
		{"ENDPOINT", "localhost:4318", "no http or https scheme"},
		{"ENDPOINT", "grpc://collector:4317", "no http or https scheme"},
		{"TRACES_ENDPOINT", "http://", "no host"},
		{"TRACES_ENDPOINT", "http://collector:port/v1/traces", "not a URL"},
		{"ENDPOINT", "http://user:s3cret@collector:4318", "holds a user or password"},
	} {
		cleanEnv(t)
		t.Setenv(prefix+tt.name, tt.value)
		_, err := NewClient()
		if err == nil || !strings.Contains(err.Error(), prefix+tt.name+"=") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: error %v, want one naming the variable and saying %q", tt.name, tt.value, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s=%q: the error shows the password: %v", tt.name, tt.value, err)
		}
	}
}

// TestHeaders checks the parsing of the headers variables: trimmed keys and
// values, percent-decoded values, the signal-specific list replacing the
// generic one; and errors that name the variable and the entry, never the
// value.
func TestHeaders(t *testing.T) {
	cleanEnv(t)
	t.Setenv(prefix+"HEADERS", " api-key = abc%20def , Authorization=Bearer%20x%2Cy,,X-Empty=")
	c := newClient(t)
	for k, want := range map[string]string{"Api-Key": "abc def", "Authorization": "Bearer x,y", "X-Empty": ""} {
		if vs, ok := c.cfg.headers[k]; !ok || len(vs) != 1 || vs[0] != want {
			t.Errorf("header %s: %q, want %q (all: %v)", k, vs, want, c.cfg.headers)
		}
	}
	if len(c.cfg.headers) != 3 {
		t.Errorf("headers %v, want 3", c.cfg.headers)
	}
	t.Setenv(prefix+"TRACES_HEADERS", "x-tenant=a")
	c = newClient(t)
	if len(c.cfg.headers) != 1 || c.cfg.headers.Get("X-Tenant") != "a" {
		t.Errorf("with TRACES_HEADERS: headers %v, want only X-Tenant: a", c.cfg.headers)
	}

	for _, tt := range []struct{ value, want string }{
		{"a=b,s3cret", `entry 2 has no "="`},
		{"bad key=s3cret", `the key "bad key"`},
		{"=s3cret", `the key ""`},
		{"k=s3cret%zz", "(key k) has a value with a malformed %-escape"},
		{"k=s3cret%0Aevil: 1", "(key k) has a value with a control character"},
	} {
		cleanEnv(t)
		t.Setenv(prefix+"TRACES_HEADERS", tt.value)
		_, err := NewClient()
		if err == nil || !strings.Contains(err.Error(), prefix+"TRACES_HEADERS: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one naming the variable and saying %q", tt.value, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the value: %v", tt.value, err)
		}
	}
}

// TestTimeoutAndCompression checks the timeout's and the compression's
// variables, their defaults and their errors.
func TestTimeoutAndCompression(t *testing.T) {
	cleanEnv(t)
	c := newClient(t)
	if c.cfg.timeout != 10*time.Second || c.cfg.gzip {
		t.Errorf("defaults: timeout %s, gzip %v; want 10s, false", c.cfg.timeout, c.cfg.gzip)
	}
	t.Setenv(prefix+"TIMEOUT", "2500")
	t.Setenv(prefix+"COMPRESSION", "none")
	if c = newClient(t); c.cfg.timeout != 2500*time.Millisecond || c.cfg.timeoutFrom != prefix+"TIMEOUT" || c.cfg.gzip {
		t.Errorf("TIMEOUT 2500, COMPRESSION none: timeout %s from %s, gzip %v", c.cfg.timeout, c.cfg.timeoutFrom, c.cfg.gzip)
	}
	t.Setenv(prefix+"TRACES_TIMEOUT", "0")
	t.Setenv(prefix+"TRACES_COMPRESSION", "GZIP")
	if c = newClient(t); c.cfg.timeout != 0 || c.cfg.timeoutFrom != prefix+"TRACES_TIMEOUT" || !c.cfg.gzip {
		t.Errorf("TRACES_TIMEOUT 0, TRACES_COMPRESSION GZIP: timeout %s from %s, gzip %v", c.cfg.timeout, c.cfg.timeoutFrom, c.cfg.gzip)
	}
	for _, tt := range []struct{ name, value, want string }{
		{"TIMEOUT", "10s", "want a whole number of milliseconds"},
		{"TRACES_TIMEOUT", "-1", "want a whole number of milliseconds"},
		{"TIMEOUT", "99999999999999999999", "want a whole number of milliseconds"},
		{"COMPRESSION", "zstd", "want gzip or none"},
	} {
		cleanEnv(t)
		t.Setenv(prefix+tt.name, tt.value)
		if _, err := NewClient(); err == nil || !strings.Contains(err.Error(), prefix+tt.name+"=") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: error %v, want one naming the variable and saying %q", tt.name, tt.value, err, tt.want)
		}
	}
}

// TestCertificateErrors checks that the certificate variables' files are
// read by NewClient, whose errors name the variable and the file.
func TestCertificateErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := writeTestPKI(t, dir)
	for _, tt := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"CERTIFICATE": missing}, []string{prefix + "CERTIFICATE=" + missing, "no such file"}},
		{map[string]string{"CERTIFICATE": ca, "TRACES_CERTIFICATE": notPEM}, []string{prefix + "TRACES_CERTIFICATE=" + notPEM, "holds no PEM certificate"}},
		{map[string]string{"CLIENT_CERTIFICATE": cert}, []string{prefix + "CLIENT_CERTIFICATE is set but " + prefix + "CLIENT_KEY is not"}},
		{map[string]string{"TRACES_CLIENT_KEY": key}, []string{prefix + "TRACES_CLIENT_KEY is set but " + prefix + "CLIENT_CERTIFICATE is not"}},
		{map[string]string{"CLIENT_CERTIFICATE": cert, "CLIENT_KEY": missing}, []string{prefix + "CLIENT_KEY=" + missing, "no such file"}},
		{map[string]string{"CLIENT_CERTIFICATE": cert, "TRACES_CLIENT_KEY": notPEM}, []string{prefix + "CLIENT_CERTIFICATE=" + cert, prefix + "TRACES_CLIENT_KEY=" + notPEM}},
		{map[string]string{"CERTIFICATE": ca, "ENDPOINT": "http://collector:4318"}, []string{prefix + "CERTIFICATE is set but the endpoint http://collector:4318/v1/traces is plain HTTP"}},
	} {
		cleanEnv(t)
		t.Setenv(prefix+"ENDPOINT", "https://collector:4318")
		for k, v := range tt.env {
			t.Setenv(prefix+k, v)
		}
		_, err := NewClient()
		for _, want := range tt.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %v, want one saying %q", tt.env, err, want)
			}
		}
	}
	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", "https://collector:4318")
	t.Setenv(prefix+"TRACES_CERTIFICATE", ca)
	t.Setenv(prefix+"CLIENT_CERTIFICATE", cert)
	t.Setenv(prefix+"CLIENT_KEY", key)
	if c := newClient(t); c.cfg.tls == nil || c.cfg.tls.RootCAs == nil || len(c.cfg.tls.Certificates) != 1 {
		t.Errorf("CA, certificate and key: TLS config %+v, want the CA and the certificate", c.cfg.tls)
	}
}
