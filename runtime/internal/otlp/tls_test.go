package otlp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA of a test's own, a server certificate for 127.0.0.1 and a
// client certificate it signed.
type testPKI struct {
	pool   *x509.CertPool  // the CA
	server tls.Certificate // for 127.0.0.1
	// The PEM files of the CA, the client's certificate and its key.
	caFile, certFile, keyFile string
}

// writeTestPKI makes a testPKI, writing its PEM files to dir, and returns
// the files' paths: the CA's, the client certificate's and its key's.
func writeTestPKI(t *testing.T, dir string) (ca, cert, key string) {
	p := newTestPKI(t, dir)
	return p.caFile, p.certFile, p.keyFile
}

// newTestPKI makes a testPKI, writing its PEM files to dir.
func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{pool: x509.NewCertPool(),
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client-key.pem")}
	p.pool.AddCert(caCert)
	srvDER, srvKey := issue(2, "collector", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, "dge-client", x509.ExtKeyUsageClientAuth, nil)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	writePEM(t, p.certFile, "CERTIFICATE", cliDER)
	writePEM(t, p.keyFile, "PRIVATE KEY", keyDER)
	return p
}

// writePEM writes der to file as one PEM block of type typ.
func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSWithCAFile exports to an httptest TLS server whose certificate
// OTEL_EXPORTER_OTLP_CERTIFICATE trusts; without it, the export fails at
// once (a certificate the client rejects is not retried).
func TestTLSWithCAFile(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewTLSServer(rc)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca, "CERTIFICATE", srv.Certificate().Raw)

	cleanEnv(t)
	t.Setenv(prefix+"TRACES_ENDPOINT", srv.URL+"/v1/traces")
	t.Setenv(prefix+"CERTIFICATE", ca)
	if err := newClient(t).UploadTraces(t.Context(), testSpans("over TLS")); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests(); len(got) != 1 || got[0].export.ResourceSpans[0].ScopeSpans[0].Spans[0].Name != "over TLS" {
		t.Errorf("the receiver got %v, want the span", got)
	}

	t.Setenv(prefix+"CERTIFICATE", "")
	start := time.Now()
	err := newClient(t).UploadTraces(t.Context(), testSpans("untrusted"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: error %v, want one about the certificate", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("without the CA: failed after %s, want at once (no retry)", d)
	}
}

// TestMutualTLS exports to a server that requires a client certificate
// signed by its CA, with the CLIENT_CERTIFICATE and CLIENT_KEY variables;
// without them the server refuses the handshake and the export fails at
// once.
func TestMutualTLS(t *testing.T) {
	p := newTestPKI(t, t.TempDir())
	var clientCN string
	rc := &receiver{t: t, respond: func(_ int, w http.ResponseWriter, r *http.Request) {
		clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}}
	srv := httptest.NewUnstartedServer(rc)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cleanEnv(t)
	t.Setenv(prefix+"ENDPOINT", srv.URL)
	t.Setenv(prefix+"TRACES_CERTIFICATE", p.caFile)
	t.Setenv(prefix+"TRACES_CLIENT_CERTIFICATE", p.certFile)
	t.Setenv(prefix+"TRACES_CLIENT_KEY", p.keyFile)
	if err := newClient(t).UploadTraces(t.Context(), testSpans("mutual")); err != nil {
		t.Fatal(err)
	}
	if len(rc.requests()) != 1 || clientCN != "dge-client" {
		t.Errorf("the receiver got %d requests from %q, want 1 from dge-client", len(rc.requests()), clientCN)
	}

	t.Setenv(prefix+"TRACES_CLIENT_CERTIFICATE", "")
	t.Setenv(prefix+"TRACES_CLIENT_KEY", "")
	start := time.Now()
	if err := newClient(t).UploadTraces(t.Context(), testSpans("no certificate")); err == nil {
		t.Error("without a client certificate: the export succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("without a client certificate: failed after %s, want at once (no retry)", d)
	}
	if len(rc.requests()) != 1 {
		t.Errorf("the receiver got %d requests, want 1", len(rc.requests()))
	}
}
