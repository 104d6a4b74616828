package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The private TLS node's ports: AMQP over TLS, the management API over
// TLS, Erlang distribution, and the range its rabbitmqctl may use. None is
// the default broker's or the private cluster's (scripts/cluster.sh).
const (
	tlsAMQPPort    = 5711
	tlsMgmtPort    = 15711
	tlsDistPort    = 25711
	tlsCtlPortMin  = 35731
	tlsCtlPortMax  = 35740
	tlsNodeName    = "dge-tls@localhost"
	rabbitmqBinDir = "/usr/lib/rabbitmq/bin"
)

// pki is a CA made by the test and the certificates it signed, as PEM
// files.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// newPKI writes a self-signed CA, a server certificate for localhost and
// 127.0.0.1, and a client certificate, all signed by that CA, into dir.
func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dge test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, name string) (certFile, keyFile string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		certFile = writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile = writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kder)
		return certFile, keyFile
	}
	p := pki{ca: writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, "server")
	p.clientCert, p.clientKey = leaf(3, "dge test client", x509.ExtKeyUsageClientAuth, "client")
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsNode is a private RabbitMQ node that speaks only TLS, on AMQP and on
// its management API, and requires a client certificate signed by the
// test's CA on both.
type tlsNode struct {
	pki
	dir string
	cmd *exec.Cmd
	log string
}

// startTLSNode starts the node in the background, with its own config,
// data, logs and Erlang cookie under dir. Stop it with stop, whatever
// happens.
func startTLSNode(t *testing.T, dir string, p pki) *tlsNode {
	t.Helper()
	server := filepath.Join(rabbitmqBinDir, "rabbitmq-server")
	if _, err := os.Stat(server); err != nil {
		t.Fatalf("this test starts a private RabbitMQ node and needs %s: install RabbitMQ (apt-get install rabbitmq-server, or scripts/ensure-broker.sh): %v", server, err)
	}
	for _, port := range []int{tlsAMQPPort, tlsMgmtPort, tlsDistPort} {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			t.Fatalf("port %d is in use: the private TLS node cannot start (see ss -ltnp)", port)
		}
	}
	n := &tlsNode{pki: p, dir: dir, log: filepath.Join(dir, "node.out")}
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "log"), filepath.Join(dir, "mnesia")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cookie := make([]byte, 16)
	rand.Read(cookie)
	files := map[string]string{
		filepath.Join(home, ".erlang.cookie"):   hex.EncodeToString(cookie),
		filepath.Join(dir, "rabbitmq-env.conf"): "ERL_EPMD_ADDRESS=127.0.0.1\n",
		filepath.Join(dir, "enabled_plugins"):   "[rabbitmq_management].\n",
		filepath.Join(dir, "rabbitmq.conf"): fmt.Sprintf(`listeners.tcp = none
listeners.ssl.default = 127.0.0.1:%d
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
management.ssl.port = %d
management.ssl.ip = 127.0.0.1
management.ssl.cacertfile = %s
management.ssl.certfile = %s
management.ssl.keyfile = %s
management.ssl.verify = verify_peer
management.ssl.fail_if_no_peer_cert = true
loopback_users = none
`, tlsAMQPPort, p.ca, p.serverCert, p.serverKey, tlsMgmtPort, p.ca, p.serverCert, p.serverKey),
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(n.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The /usr/sbin wrapper would switch users and drop this environment:
	// run the server script itself, in its own process group.
	n.cmd = exec.Command(server)
	n.cmd.Env = append(os.Environ(),
		"HOME="+home,
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_NODENAME="+tlsNodeName,
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", tlsDistPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PLUGINS_EXPAND_DIR="+filepath.Join(dir, "plugins-expand"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		fmt.Sprintf("RABBITMQ_CTL_DIST_PORT_MIN=%d", tlsCtlPortMin),
		fmt.Sprintf("RABBITMQ_CTL_DIST_PORT_MAX=%d", tlsCtlPortMax),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", server, err)
	}
	return n
}

// stop ends the node: SIGTERM to its process group, then SIGKILL if it is
// still there after 30 s.
func (n *tlsNode) stop(t *testing.T) {
	pgid := n.cmd.Process.Pid
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Logf("the private TLS node did not stop within 30 s of SIGTERM; killing it")
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Whatever of the group is left (the node's helpers).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// clientTLS is a TLS configuration that trusts the test's CA and presents
// its client certificate.
func (n *tlsNode) clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	pemCA, err := os.ReadFile(n.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	cert, err := tls.LoadX509KeyPair(n.clientCert, n.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}
}

// mgmt sends one request to the node's management API as guest.
func (n *tlsNode) mgmt(ctx context.Context, hc *http.Client, method, path, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("https://localhost:%d/api/%s", tlsMgmtPort, path), strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.String(), nil
}

// waitReady waits until the management API answers over TLS and the AMQP
// listener takes a TLS handshake, or the node exits, or 90 s pass.
func (n *tlsNode) waitReady(t *testing.T, hc *http.Client) {
	t.Helper()
	exited := make(chan struct{})
	go func() {
		for {
			if p, err := os.FindProcess(n.cmd.Process.Pid); err != nil || p.Signal(syscall.Signal(0)) != nil {
				close(exited)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		code, _, err := n.mgmt(ctx, hc, http.MethodGet, "overview", "")
		cancel()
		if err == nil && code == http.StatusOK {
			// The AMQP listener too: a TLS handshake with the client
			// certificate.
			d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: n.clientTLS(t)}
			c, derr := d.DialContext(t.Context(), "tcp", fmt.Sprintf("localhost:%d", tlsAMQPPort))
			if derr == nil {
				c.Close()
				return
			}
			err = derr
		}
		select {
		case <-exited:
			t.Fatalf("the private TLS node exited while starting; its output:\n%s", n.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the private TLS node's management API did not answer within 90 s (last: %d %v); its output:\n%s", code, err, n.output())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (n *tlsNode) output() string {
	b, _ := os.ReadFile(n.log)
	logs, _ := filepath.Glob(filepath.Join(n.dir, "log", "*.log"))
	for _, l := range logs {
		if c, err := os.ReadFile(l); err == nil {
			b = append(b, fmt.Sprintf("\n--- %s ---\n", filepath.Base(l))...)
			b = append(b, c...)
		}
	}
	return string(b)
}

// TestTLS starts a private RabbitMQ node that speaks only TLS and requires
// client certificates (verify_peer, fail_if_no_peer_cert) signed by a CA the
// test makes, and runs dge plan and apply, a node of examples/arith,
// publish and consume over it; then checks that each missing TLS setting is
// reported as such, naming the setting that fixes it, and that a node ends
// at once on a certificate that can never work. Nothing printed holds the
// password or key material.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	n := startTLSNode(t, dir, p)
	t.Cleanup(func() { n.stop(t) })
	dge := build(t, "./cmd/dge")
	arith := build(t, "./examples/arith/cmd/arith")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: n.clientTLS(t)}, Timeout: 30 * time.Second}
	n.waitReady(t, hc)

	// A user of the test's own, with a password to look for.
	b := make([]byte, 8)
	rand.Read(b)
	user, password := "dge-tls", "pw-"+hex.EncodeToString(b)
	for _, r := range []struct{ path, body string }{
		{"users/" + user, fmt.Sprintf(`{"password":%q,"tags":"administrator"}`, password)},
		{"permissions/%2F/" + user, `{"configure":".*","write":".*","read":".*"}`},
	} {
		if code, body, err := n.mgmt(t.Context(), hc, http.MethodPut, r.path, r.body); err != nil || code >= 300 {
			t.Fatalf("PUT /api/%s: %d %s %v", r.path, code, body, err)
		}
	}
	keys := [][]byte{}
	for _, f := range []string{p.clientKey, p.serverKey} {
		k, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	checkSecrets := func(t *testing.T, what, out string) {
		t.Helper()
		if strings.Contains(out, password) {
			t.Errorf("%s: output holds the password:\n%s", what, out)
		}
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("%s: output holds key material:\n%s", what, out)
		}
		for _, k := range keys {
			block, _ := pem.Decode(k)
			if block != nil && strings.Contains(out, hex.EncodeToString(block.Bytes[8:24])) {
				t.Errorf("%s: output holds key bytes", what)
			}
		}
	}

	mgmtURL := fmt.Sprintf("DGE_MANAGEMENT_URL=https://%s:%s@localhost:%d", user, password, tlsMgmtPort)
	mgmtTLS := []string{mgmtURL, "DGE_MANAGEMENT_CACERT=" + p.ca, "DGE_MANAGEMENT_CERT=" + p.clientCert, "DGE_MANAGEMENT_KEY=" + p.clientKey}
	query := url.Values{"cacertfile": {p.ca}, "certfile": {p.clientCert}, "keyfile": {p.clientKey}}
	// No path: the graph's vhost ("/").
	amqpURL := fmt.Sprintf("amqps://%s:%s@localhost:%d?%s", user, password, tlsAMQPPort, query.Encode())
	graphDir := filepath.Join(repoRoot(t), "examples", "arith")

	runDge := func(t *testing.T, environ []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(dge, args...)
		cmd.Env = append(cleanEnv(), environ...)
		out, _ := cmd.CombinedOutput()
		checkSecrets(t, "dge "+strings.Join(args, " "), string(out))
		return cmd.ProcessState.ExitCode(), string(out)
	}
	runArith := func(t *testing.T, u string, timeout time.Duration, args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, arith, args...)
		cmd.Env = append(cleanEnv(), "DGE_AMQP_URL="+u, "DGE_LOG=warn", "DGE_CONNECTION_NAME="+t.Name())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		checkSecrets(t, "arith "+strings.Join(args, " "), stdout.String()+stderr.String())
		if ctx.Err() != nil {
			t.Errorf("arith %s did not end within %v; stderr:\n%s", strings.Join(args, " "), timeout, stderr.String())
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	t.Run("plan apply node publish consume", func(t *testing.T) {
		if code, out := runDge(t, mgmtTLS, "plan", "-detailed-exitcode", graphDir); code != 2 {
			t.Fatalf("dge plan over TLS: exit %d, want 2:\n%s", code, out)
		}
		if code, out := runDge(t, mgmtTLS, "apply", "-auto-approve", graphDir); code != 0 || !strings.Contains(out, "Apply complete!") {
			t.Fatalf("dge apply over TLS: exit %d:\n%s", code, out)
		}
		ctx, cancel := context.WithCancel(t.Context())
		node := exec.CommandContext(ctx, arith, "all")
		node.Env = append(cleanEnv(), "DGE_AMQP_URL="+amqpURL, "DGE_LOG=warn", "DGE_CONNECTION_NAME="+t.Name()+" all")
		var nodeErr bytes.Buffer
		node.Stderr = &nodeErr
		if err := node.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cancel()
			node.Wait()
			checkSecrets(t, "arith all", nodeErr.String())
			if t.Failed() {
				t.Logf("arith all stderr:\n%s", nodeErr.String())
			}
		}()
		code, out, errs := runArith(t, amqpURL, 30*time.Second, "publish", "start", `{"value": 3}`)
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Fatalf("publish over TLS: exit %d, stdout %q, stderr:\n%s", code, out, errs)
		}
		code, out, errs = runArith(t, amqpURL, 60*time.Second, "consume", "result", "-n", "1", "-timeout", "50s")
		if code != 0 || strings.TrimSpace(out) != `{"value":54}` {
			t.Fatalf("consume over TLS: exit %d, stdout %q (want {\"value\":54}), stderr:\n%s", code, out, errs)
		}
	})

	t.Run("management errors name the setting", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			environ []string
			want    []string
		}{
			{"no CA", []string{mgmtURL, "DGE_MANAGEMENT_CERT=" + p.clientCert, "DGE_MANAGEMENT_KEY=" + p.clientKey},
				[]string{"signed by an authority dge does not trust", "DGE_MANAGEMENT_CACERT"}},
			{"no client certificate", []string{mgmtURL, "DGE_MANAGEMENT_CACERT=" + p.ca},
				[]string{"requires a client certificate", "DGE_MANAGEMENT_CERT", "DGE_MANAGEMENT_KEY"}},
			{"key without certificate", []string{mgmtURL, "DGE_MANAGEMENT_CACERT=" + p.ca, "DGE_MANAGEMENT_KEY=" + p.clientKey},
				[]string{"DGE_MANAGEMENT_KEY is set but DGE_MANAGEMENT_CERT is not"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, out := runDge(t, tc.environ, "plan", graphDir)
				for _, w := range tc.want {
					if code != 1 || !strings.Contains(out, w) {
						t.Errorf("dge plan: exit %d, output lacks %q:\n%s", code, w, out)
					}
				}
				if strings.Contains(out, "management plugin enabled") {
					t.Errorf("dge plan blames the management plugin for a TLS setting:\n%s", out)
				}
			})
		}
	})

	t.Run("node ends at once on a certificate that cannot work", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"no client certificate", url.Values{"cacertfile": {p.ca}}, []string{"requires a client certificate", "certfile=", "keyfile="}},
			{"no CA", url.Values{"certfile": {p.clientCert}, "keyfile": {p.clientKey}}, []string{"does not trust", "cacertfile="}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := fmt.Sprintf("amqps://%s:%s@localhost:%d?%s", user, password, tlsAMQPPort, tc.query.Encode())
				// Ending within the timeout is the point: a retry loop
				// would run for ever.
				code, _, errs := runArith(t, u, 30*time.Second, "double")
				for _, w := range tc.want {
					if code != 1 || !strings.Contains(errs, w) {
						t.Errorf("arith double: exit %d, stderr lacks %q:\n%s", code, w, errs)
					}
				}
			})
		}
	})
}

// cleanEnv is the process environment without the variables that would
// point dge or a graph program elsewhere.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DGE_") && !strings.HasPrefix(kv, "SSL_CERT_") {
			out = append(out, kv)
		}
	}
	return out
}
