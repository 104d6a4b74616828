package mgmt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// The environment variables that configure TLS to an https:// management
// API: the CA that signed its certificate (besides the system's), and the
// client certificate and key for a broker that asks for one. Each names a
// PEM file.
const (
	CACertEnv = "DGE_MANAGEMENT_CACERT"
	CertEnv   = "DGE_MANAGEMENT_CERT"
	KeyEnv    = "DGE_MANAGEMENT_KEY"
)

// resolveTLS fills the TLS settings of cfg from the environment and checks
// they make sense together.
func resolveTLS(env map[string]string, cfg *Config) error {
	cfg.CACert, cfg.Cert, cfg.Key = env[CACertEnv], env[CertEnv], env[KeyEnv]
	if cfg.CACert == "" && cfg.Cert == "" && cfg.Key == "" {
		return nil
	}
	if (cfg.Cert == "") != (cfg.Key == "") {
		set, unset := CertEnv, KeyEnv
		if cfg.Cert == "" {
			set, unset = KeyEnv, CertEnv
		}
		return fmt.Errorf("%s is set but %s is not: a client certificate needs both files", set, unset)
	}
	if !strings.Contains(cfg.Endpoint, "https://") {
		return fmt.Errorf("%s, %s or %s is set, but the management URL %s is not https://: use the API's https:// URL (its TLS port, often 15671)",
			CACertEnv, CertEnv, KeyEnv, cfg.Endpoint)
	}
	return nil
}

// tlsQuery returns the query of an amqps:// URL that uses the CA and
// client certificate of cfg, as amqp091 reads it.
func tlsQuery(cfg Config) string {
	q := url.Values{}
	if cfg.CACert != "" {
		q.Set("cacertfile", cfg.CACert)
	}
	if cfg.Cert != "" {
		q.Set("certfile", cfg.Cert)
		q.Set("keyfile", cfg.Key)
	}
	return q.Encode()
}

// tlsConfig returns the TLS configuration of cfg, nil when it sets none
// (the system's CAs, no client certificate). Its errors name the variable
// and the file, never the file's content.
func tlsConfig(cfg Config) (*tls.Config, error) {
	if cfg.CACert == "" && cfg.Cert == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", CACertEnv, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", CACertEnv, cfg.CACert)
		}
		tc.RootCAs = pool
	}
	if cfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("%s and %s (%s, %s): %v", CertEnv, KeyEnv, cfg.Cert, cfg.Key, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// tlsAdvice returns what went wrong and what to set, for an error of a TLS
// connection to the management API at endpoint; "" when err is no TLS
// error.
func tlsAdvice(err error, endpoint string) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("the management API's certificate at %s is signed by an authority dge does not trust (%v): set %s to the CA certificate (PEM) that signed it",
			endpoint, unknown, CACertEnv)
	case errors.As(err, &host):
		return fmt.Sprintf("the management API's certificate at %s is not valid for the URL's host (%v): use a host name the certificate names in the management URL",
			endpoint, host)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the management API's certificate at %s is not valid (%v): renew it on the broker, or check this machine's clock", endpoint, invalid)
	case strings.Contains(msg, "tls: certificate required"):
		return fmt.Sprintf("the management API at %s requires a client certificate: set %s and %s to its PEM certificate and key files", endpoint, CertEnv, KeyEnv)
	case strings.Contains(msg, "tls: bad certificate"), strings.Contains(msg, "tls: unknown certificate"), strings.Contains(msg, "tls: certificate expired"), strings.Contains(msg, "tls: certificate revoked"):
		return fmt.Sprintf("the management API at %s refused dge's client certificate (%s): set %s and %s to a certificate and key signed by a CA the broker trusts (its ssl_options.cacertfile)",
			endpoint, remoteError(msg), CertEnv, KeyEnv)
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("%s answers plain HTTP, not TLS: use http://, or the port of the API's TLS listener", endpoint)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fmt.Sprintf("%s does not speak TLS: use http://, or the port of the API's TLS listener", endpoint)
	}
	return ""
}

// remoteError returns the "remote error: tls: ..." part of msg, or msg.
func remoteError(msg string) string {
	if i := strings.Index(msg, "remote error: "); i >= 0 {
		return msg[i:]
	}
	return msg
}
