package brokertest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The environment variables that name the test broker.
const (
	AMQPURLEnv       = "DGE_TEST_AMQP_URL"
	ManagementURLEnv = "DGE_TEST_MANAGEMENT_URL"
)

const howToFix = "run the tests with `make test` (it starts RabbitMQ and sets the variables), " +
	"or export DGE_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ and " +
	"DGE_TEST_MANAGEMENT_URL=http://guest:guest@127.0.0.1:15672 for a running broker"

// AMQPURL returns the AMQP URL of the test broker from DGE_TEST_AMQP_URL. It
// fails the test when the variable is unset or is not an amqp:// or amqps://
// URL.
func AMQPURL(t testing.TB) string {
	t.Helper()
	s := os.Getenv(AMQPURLEnv)
	if s == "" {
		t.Fatalf("brokertest: %s is not set; this test needs a real RabbitMQ: %s", AMQPURLEnv, howToFix)
	}
	if _, err := amqp.ParseURI(s); err != nil {
		t.Fatalf("brokertest: %s is not a valid AMQP URL: %v; %s", AMQPURLEnv, redactErr(err, s), howToFix)
	}
	return s
}

// ManagementURL returns the management API URL of the test broker from
// DGE_TEST_MANAGEMENT_URL, credentials included. It fails the test when the
// variable is unset or is not an http:// or https:// URL with a host.
func ManagementURL(t testing.TB) string {
	t.Helper()
	s := os.Getenv(ManagementURLEnv)
	if s == "" {
		t.Fatalf("brokertest: %s is not set; this test needs a real RabbitMQ: %s", ManagementURLEnv, howToFix)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Fatalf("brokertest: %s must be an http(s) URL such as http://guest:guest@127.0.0.1:15672; %s", ManagementURLEnv, howToFix)
	}
	return s
}

// Vhost is a private vhost on the test broker, deleted when its test ends.
type Vhost struct {
	// Name is the vhost's name, unique per call to NewVhost.
	Name string
	// AMQPURL is the broker's AMQP URL with the vhost as its path.
	AMQPURL string
	// ManagementURL is the management API URL, credentials included.
	ManagementURL string
	// Client is a management API client logged in with ManagementURL's
	// credentials.
	Client *rabbithole.Client
}

// NewVhost creates a vhost named "dge-test-<test name>-<random>" through the
// management API, grants full permissions on it to the AMQP URL's user (and to
// the management user, if different), and deletes it in t.Cleanup, retrying
// a failed delete a few times. It fails the test when the broker cannot be
// reached or refuses.
func NewVhost(t testing.TB) Vhost {
	t.Helper()
	amqpURL := AMQPURL(t)
	mgmtURL := ManagementURL(t)
	client, err := NewClient(mgmtURL)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	name := vhostName(t.Name())
	res, err := client.PutVhost(name, rabbithole.VhostSettings{Description: "dge test " + t.Name()})
	if err != nil {
		t.Fatalf("brokertest: create vhost %s at %s: %v; is RabbitMQ running with the management plugin? %s",
			name, redactURL(mgmtURL), err, howToFix)
	}
	closeBody(res)
	// Register the delete before anything else can fail, so a half-made
	// vhost is still removed.
	t.Cleanup(func() {
		if err := deleteVhost(client, name); err != nil {
			t.Errorf("brokertest: delete vhost %s: %v (remove it with: rabbitmqctl delete_vhost %s)", name, err, name)
		}
	})

	uri, _ := amqp.ParseURI(amqpURL) // checked by AMQPURL
	users := []string{uri.Username}
	if client.Username != uri.Username {
		users = append(users, client.Username)
	}
	for _, user := range users {
		res, err := client.UpdatePermissionsIn(name, user, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"})
		if err != nil {
			t.Fatalf("brokertest: grant user %s permissions on vhost %s: %v", user, name, err)
		}
		closeBody(res)
	}
	return Vhost{
		Name:          name,
		AMQPURL:       withVhost(amqpURL, name),
		ManagementURL: mgmtURL,
		Client:        client,
	}
}

// NewClient returns a management API client for a URL of the form
// http://user:password@host:port, taking the credentials out of the URL.
func NewClient(managementURL string) (*rabbithole.Client, error) {
	u, err := url.Parse(managementURL)
	if err != nil {
		return nil, errors.New("parse management URL: " + redactErr(err, managementURL).Error())
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	endpoint := strings.TrimSuffix(u.String(), "/")
	c, err := rabbithole.NewClient(endpoint, user, pass)
	if err != nil {
		return nil, errors.New("management client for " + endpoint + ": " + err.Error())
	}
	c.SetTimeout(30 * time.Second)
	return c, nil
}

// Dial opens an AMQP connection to the vhost, named after the test (the
// connection_name client property, shown in the management UI), and closes
// it in t.Cleanup. It fails the test when the broker cannot be reached.
func (v Vhost) Dial(t testing.TB) *amqp.Connection {
	t.Helper()
	conn, err := amqp.DialConfig(v.AMQPURL, amqp.Config{
		Properties: amqp.Table{"connection_name": t.Name()},
	})
	if err != nil {
		t.Fatalf("brokertest: dial %s: %v; %s", redactURL(v.AMQPURL), err, howToFix)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			t.Errorf("brokertest: close connection to vhost %s: %v", v.Name, err)
		}
	})
	return conn
}

// CloseConnections force-closes, through the management API, every
// connection to the vhost named name (the AMQP connection_name property), as
// an operator or a network failure would. It waits up to a minute for such a
// connection to appear, and fails the test if none does.
func (v Vhost) CloseConnections(t testing.TB, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		conns, err := v.Client.ListConnections()
		if err != nil {
			t.Fatalf("brokertest: list connections: %v", redactErr(err, v.ManagementURL))
		}
		closed := 0
		for _, c := range conns {
			if c.Vhost == v.Name && c.ClientProperties["connection_name"] == name {
				res, err := v.Client.CloseConnection(c.Name)
				if err != nil {
					t.Fatalf("brokertest: close connection %s: %v", c.Name, redactErr(err, v.ManagementURL))
				}
				closeBody(res)
				closed++
			}
		}
		if closed > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: no connection named %q in vhost %s to close", name, v.Name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Exists reports whether the vhost still exists on the broker.
func (v Vhost) Exists() (bool, error) {
	return vhostExists(v.Client, v.Name)
}

func vhostExists(c *rabbithole.Client, name string) (bool, error) {
	_, err := c.GetVhost(name)
	var er rabbithole.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// deleteVhost deletes a vhost, retrying: on RabbitMQ 3.10.8 deleting quorum
// queues right after heavy writes occasionally fails once (see
// docs/design.md, "Known broker faults"). A vhost already gone counts as
// deleted.
func deleteVhost(c *rabbithole.Client, name string) error {
	var err error
	delay := 250 * time.Millisecond
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			time.Sleep(delay)
			delay *= 2
		}
		var res *http.Response
		res, err = c.DeleteVhost(name)
		if err == nil {
			closeBody(res)
			var exists bool
			exists, err = vhostExists(c, name)
			if err == nil && !exists {
				return nil
			}
			if err == nil {
				err = errors.New("vhost still listed after delete")
			}
		}
	}
	return err
}

// vhostName makes a vhost name that is unique, readable and safe in URLs.
func vhostName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 80 {
		s = s[:80]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	return "dge-test-" + s + "-" + hex.EncodeToString(rnd[:])
}

// withVhost returns the AMQP URL with its path replaced by the escaped vhost.
func withVhost(amqpURL, vhost string) string {
	u, err := url.Parse(amqpURL)
	if err != nil {
		return amqpURL
	}
	u.Path = "/" + vhost
	u.RawPath = "/" + url.PathEscape(vhost)
	return u.String()
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}

// redactErr keeps a URL's password out of an error message.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return errors.New("the URL does not parse")
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

func closeBody(res *http.Response) {
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
}
