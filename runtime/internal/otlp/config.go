package otlp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dgehq/dge/internal/redact"
)

// The defaults of the settings the environment may leave unset.
const (
	// defaultEndpoint is where spans go when neither endpoint variable is
	// set: the OpenTelemetry specification's default for OTLP/HTTP.
	defaultEndpoint = "http://localhost:4318/v1/traces"
	// defaultTimeout bounds one export, all its attempts included.
	defaultTimeout = 10 * time.Second
)

// prefix begins the name of every variable the client reads; the
// signal-specific variable of a setting inserts "TRACES_" after it.
const prefix = "OTEL_EXPORTER_OTLP_"

// config is what the environment asks of the client.
type config struct {
	// endpoint is the URL every export is POSTed to.
	endpoint *url.URL
	// headers are added to every request (the variables' keys and decoded
	// values).
	headers http.Header
	// timeout bounds one export, all its attempts included; 0 for none.
	// timeoutFrom names the variable that set it ("" for the default).
	timeout     time.Duration
	timeoutFrom string
	// gzip compresses the requests' bodies.
	gzip bool
	// tls is the TLS configuration of https endpoints: nil for Go's default
	// (the system's roots, no client certificate).
	tls *tls.Config
}

// setting returns the value of a setting and the variable it came from:
// OTEL_EXPORTER_OTLP_TRACES_<name> when set (and not blank), else
// OTEL_EXPORTER_OTLP_<name>. The value is trimmed; from is "" and value ""
// when neither is set.
func setting(name string) (value, from string) {
	for _, k := range []string{prefix + "TRACES_" + name, prefix + name} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v, k
		}
	}
	return "", ""
}

// loadConfig reads the client's configuration from the process
// environment. Its errors name the variable at fault and say what to do.
func loadConfig() (config, error) {
	var cfg config
	var err error
	if cfg.endpoint, err = endpointFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.headers, err = headersFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.timeout, cfg.timeoutFrom, err = timeoutFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.gzip, err = gzipFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.tls, err = tlsFromEnv(); err != nil {
		return cfg, err
	}
	if cfg.tls != nil && cfg.endpoint.Scheme == "http" {
		return cfg, fmt.Errorf("%s is set but the endpoint %s is plain HTTP: give an https endpoint, or unset the certificate variables",
			tlsVars(), cfg.endpoint)
	}
	return cfg, nil
}

// endpointFromEnv returns the URL to POST to:
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, else
// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended to its path, else
// the default.
func endpointFromEnv() (*url.URL, error) {
	if v, ok := lookup(prefix + "TRACES_ENDPOINT"); ok {
		u, err := parseEndpoint(prefix+"TRACES_ENDPOINT", v, "https://collector:4318/v1/traces")
		if err != nil {
			return nil, err
		}
		if u.Path == "" {
			u.Path = "/" // as the specification says of an endpoint without a path
		}
		return u, nil
	}
	if v, ok := lookup(prefix + "ENDPOINT"); ok {
		u, err := parseEndpoint(prefix+"ENDPOINT", v, "https://collector:4318")
		if err != nil {
			return nil, err
		}
		return u.JoinPath("v1", "traces"), nil // JoinPath minds a trailing slash
	}
	return url.Parse(defaultEndpoint)
}

// lookup returns the trimmed value of the variable k and whether it is set
// to something other than blanks.
func lookup(k string) (string, bool) {
	v := strings.TrimSpace(os.Getenv(k))
	return v, v != ""
}

// parseEndpoint parses v, the value of the variable from, as an http or
// https URL with a host; example is a valid value for the error's advice.
func parseEndpoint(from, v, example string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("%s=%q: %s: give an http or https URL such as %s", from, redact.URL(v), why, example)
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, bad("not a URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("no http or https scheme")
	case u.Host == "":
		return nil, bad("no host")
	case u.User != nil:
		return nil, fmt.Errorf("%s=%q: the URL holds a user or password, which the exporter does not send: remove it and give credentials in %sHEADERS (e.g. Authorization=Basic%%20...)",
			from, redact.URL(v), prefix)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// headersFromEnv returns the headers of OTEL_EXPORTER_OTLP_TRACES_HEADERS,
// else of OTEL_EXPORTER_OTLP_HEADERS (the signal-specific list replaces the
// generic one, as in the SDK): comma-separated key=value pairs, keys and
// values trimmed, values percent-decoded. Blank entries are skipped. Errors
// never show a value: headers carry API keys.
func headersFromEnv() (http.Header, error) {
	v, from := setting("HEADERS")
	h := http.Header{}
	if from == "" {
		return h, nil
	}
	for i, entry := range strings.Split(v, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%s: entry %d %s: write key=value pairs separated by commas, percent-encoding any comma, %% or control character in a value (e.g. Authorization=Bearer%%20abc)",
				from, i+1, why)
		}
		key, val, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, bad(`has no "="`)
		}
		key = strings.TrimSpace(key)
		if !isToken(key) {
			return nil, bad(fmt.Sprintf("has the key %q, which is not an HTTP header name", key))
		}
		val, err := url.PathUnescape(val)
		if err != nil {
			return nil, bad(fmt.Sprintf("(key %s) has a value with a malformed %%-escape", key))
		}
		val = strings.TrimSpace(val)
		if strings.ContainsFunc(val, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, bad(fmt.Sprintf("(key %s) has a value with a control character, which no header may hold", key))
		}
		h.Set(key, val)
	}
	return h, nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as a header's name
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// timeoutFromEnv returns the timeout of one export, in milliseconds in
// OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT (0: none), and the variable it came
// from; default 10 s.
func timeoutFromEnv() (time.Duration, string, error) {
	v, from := setting("TIMEOUT")
	if from == "" {
		return defaultTimeout, "", nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 || ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
		return 0, "", fmt.Errorf("%s=%q: want a whole number of milliseconds, such as 10000 (the default), or 0 for no timeout", from, v)
	}
	return time.Duration(ms) * time.Millisecond, from, nil
}

// gzipFromEnv reports whether OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION asks
// for gzip.
func gzipFromEnv() (bool, error) {
	v, from := setting("COMPRESSION")
	switch strings.ToLower(v) {
	case "", "none":
		return false, nil
	case "gzip":
		return true, nil
	}
	return false, fmt.Errorf("%s=%q: want gzip or none (the default)", from, v)
}

// tlsFromEnv returns the TLS configuration the certificate variables ask
// for, or nil when none is set: the CA that verifies the endpoint
// (CERTIFICATE, a PEM file) and the client's certificate and key for mutual
// TLS (CLIENT_CERTIFICATE and CLIENT_KEY, PEM files, both or neither).
func tlsFromEnv() (*tls.Config, error) {
	ca, caFrom := setting("CERTIFICATE")
	cert, certFrom := setting("CLIENT_CERTIFICATE")
	key, keyFrom := setting("CLIENT_KEY")
	if caFrom == "" && certFrom == "" && keyFrom == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFrom != "" {
		pem, err := readFile(caFrom, ca)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s=%s: the file holds no PEM certificate: give the file of the CA that signed the collector's certificate", caFrom, ca)
		}
	}
	switch {
	case certFrom == "" && keyFrom == "":
		return cfg, nil
	case keyFrom == "":
		return nil, fmt.Errorf("%s is set but %sCLIENT_KEY is not: mutual TLS needs both the certificate and its key (or neither)", certFrom, prefix)
	case certFrom == "":
		return nil, fmt.Errorf("%s is set but %sCLIENT_CERTIFICATE is not: mutual TLS needs both the certificate and its key (or neither)", keyFrom, prefix)
	}
	certPEM, err := readFile(certFrom, cert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile(keyFrom, key)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s=%s and %s=%s: %v: give the PEM files of a certificate and of its private key", certFrom, cert, keyFrom, key, err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// readFile reads the file name, the value of the variable from.
func readFile(from, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %v: give the path of a PEM file this process can read", from, name, err)
	}
	return b, nil
}

// tlsVars names the certificate variables that are set, for an error.
func tlsVars() string {
	var set []string
	for _, name := range []string{"CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		if _, from := setting(name); from != "" {
			set = append(set, from)
		}
	}
	return strings.Join(set, " and ")
}
