package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DialError returns err, the failure of a connection to ep (from amqp091's
// Dial, wrapped or not), as an error that says what to check and never
// holds the password: a closed port, a login or vhost the broker refused,
// a TLS setting that cannot work. It wraps ErrRefused when no retry can
// help.
func (ep Endpoint) DialError(err error) error { return dialError(err, ep) }

// dialError says why a connection to ep failed and what to check, without
// the password. It wraps ErrRefused when no retry can help: the broker
// refused the login or the vhost, or the TLS settings can never work.
func dialError(err error, ep Endpoint) error {
	msg := strings.ReplaceAll(err.Error(), ep.URL, ep.Name)
	host, noClientCert, user, vhost := ep.Name, false, "USER", "VHOST"
	if u, perr := url.Parse(ep.URL); perr == nil {
		host = u.Host
		noClientCert = u.Scheme == "amqps" && u.Query().Get("certfile") == ""
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		vhost = strings.TrimPrefix(u.Path, "/")
	}
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotAllowed {
		return fmt.Errorf("connect to %s: %s (%w: the vhost does not exist, or user %q has no permissions on it: rabbitmqctl add_vhost %s, then rabbitmqctl set_permissions -p %s %s \".*\" \".*\" \".*\")",
			ep.Name, msg, ErrRefused, user, shellWord(vhost), shellWord(vhost), shellWord(user))
	}
	if errors.As(err, &ae) && ae.Code == amqp.AccessRefused {
		return fmt.Errorf("connect to %s: %s (%w: check the user, password and vhost in DGE_AMQP_URL)", ep.Name, msg, ErrRefused)
	}
	if advice := tlsAdvice(err, host); advice != "" {
		return fmt.Errorf("connect to %s: %s (%w: %s)", ep.Name, msg, ErrRefused, advice)
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("connect to %s: the broker at %s refuses connections: is RabbitMQ running, and listening on that host and port (5672 for amqp://, 5671 for amqps://)? Check the host and port of DGE_AMQP_URL", ep.Name, host)
	}
	if errors.Is(err, syscall.ECONNRESET) && noClientCert {
		// A broker that requires a client certificate may reset the
		// connection before its alert arrives.
		return fmt.Errorf("connect to %s: %s (if the broker at %s requires a client certificate, add certfile=/path/to/cert.pem&keyfile=/path/to/key.pem to the query of the amqps:// URL)", ep.Name, msg, host)
	}
	return fmt.Errorf("connect to %s: %s", ep.Name, msg)
}

// shellWord quotes s for a shell command line when it needs quoting.
func shellWord(s string) string {
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// tlsAdvice returns what is wrong with a TLS connection to the broker at
// host and which URL parameter fixes it; "" when err is no TLS error, or
// one a retry may fix.
func tlsAdvice(err error, host string) string {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("the broker's certificate at %s is signed by an authority this program does not trust: add cacertfile=/path/to/ca.pem (the CA that signed it) to the query of the amqps:// URL", host)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the broker's certificate at %s is not valid for that host: use a host name the certificate names, or set server_name_indication=NAME in the URL's query", host)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the broker's certificate at %s is not valid (%v): renew it on the broker, or check this machine's clock", host, invalid)
	case strings.Contains(msg, "tls: certificate required"):
		return fmt.Sprintf("the broker at %s requires a client certificate: add certfile=/path/to/cert.pem&keyfile=/path/to/key.pem to the query of the amqps:// URL", host)
	case strings.Contains(msg, "tls: bad certificate"), strings.Contains(msg, "tls: unknown certificate"), strings.Contains(msg, "tls: certificate expired"), strings.Contains(msg, "tls: certificate revoked"):
		return fmt.Sprintf("the broker at %s refused the client certificate: give certfile and keyfile of a certificate signed by a CA the broker trusts (its ssl_options.cacertfile)", host)
	case errors.As(err, &record):
		return fmt.Sprintf("%s does not speak TLS: use amqp://, or the port of the broker's TLS listener (often 5671)", host)
	}
	return ""
}
