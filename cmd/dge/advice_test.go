package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/dgehq/dge/internal/brokertest"
)

// newUser creates a broker user with tags and a random password, deleted
// when the test ends.
func newUser(t *testing.T, vh brokertest.Vhost, tags ...string) (user, password string) {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	user, password = "dge-test-"+hex.EncodeToString(b[:4]), "pw-"+hex.EncodeToString(b)
	res, err := vh.Client.PutUser(user, rabbithole.UserSettings{Password: password, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	t.Cleanup(func() {
		if res, err := vh.Client.DeleteUser(user); err == nil {
			res.Body.Close()
		}
	})
	return user, password
}

// TestVhostWithoutPermissions checks the advice for a vhost that exists
// but grants the user nothing: the broker answers 401, which is no wrong
// password. A policymaker fails reading, an administrator (who reads every
// vhost) writing; both are told to run set_permissions.
func TestVhostWithoutPermissions(t *testing.T) {
	vh := brokertest.NewVhost(t)
	mu, err := url.Parse(vh.ManagementURL)
	if err != nil {
		t.Fatal(err)
	}
	dir := chainGraph(t, vh.Name, "5s")
	for _, tag := range []string{"policymaker", "administrator"} {
		t.Run(tag, func(t *testing.T) {
			user, password := newUser(t, vh, tag)
			environ := []string{"DGE_MANAGEMENT_URL=" + mu.Scheme + "://" + mu.Host, "DGE_MANAGEMENT_USERNAME=" + user, "DGE_MANAGEMENT_PASSWORD=" + password}
			code, out, errs := runIn(t, environ, "apply", "-auto-approve", dir)
			want := `rabbitmqctl set_permissions -p ` + vh.Name + ` ` + user + ` ".*" ".*" ".*"`
			// The broker's reason: a policymaker fails reading, an
			// administrator writing.
			reason := map[string]string{"policymaker": "User not authorised to access virtual host", "administrator": "Access refused."}[tag]
			for _, part := range []string{"401", reason, "has no permissions on vhost", want} {
				if code != 1 || !strings.Contains(errs, part) {
					t.Errorf("apply as a %s without permissions: exit %d, stderr lacks %q:\n%s", tag, code, part, errs)
				}
			}
			if strings.Contains(errs, "wrong credentials") {
				t.Errorf("apply as a %s without permissions blames the credentials:\n%s", tag, errs)
			}
			if strings.Contains(out+errs, password) {
				t.Errorf("output holds the password")
			}
		})
	}
}

// TestMissingVhostAdvice checks that a missing vhost gets both commands
// that make it usable: add_vhost and set_permissions.
func TestMissingVhostAdvice(t *testing.T) {
	vh := brokertest.NewVhost(t)
	mu, err := url.Parse(vh.ManagementURL)
	if err != nil {
		t.Fatal(err)
	}
	missing := vh.Name + "-missing"
	dir := chainGraph(t, missing, "5s")
	code, _, errs := runIn(t, []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}, "plan", dir)
	for _, part := range []string{"rabbitmqctl add_vhost " + missing, `rabbitmqctl set_permissions -p ` + missing + ` ` + mu.User.Username() + ` ".*" ".*" ".*"`} {
		if code != 1 || !strings.Contains(errs, part) {
			t.Errorf("plan for a missing vhost: exit %d, stderr lacks %q:\n%s", code, part, errs)
		}
	}
}

// TestManagementCredentialsHalfSet checks that a user name without a
// password, or the reverse, is reported as such, not as wrong credentials
// for user "".
func TestManagementCredentialsHalfSet(t *testing.T) {
	dir := chainGraph(t, "v", "5s")
	for _, tc := range []struct{ set, missing string }{
		{"DGE_MANAGEMENT_USERNAME=someone", "DGE_MANAGEMENT_PASSWORD"},
		{"DGE_MANAGEMENT_PASSWORD=something", "DGE_MANAGEMENT_USERNAME"},
	} {
		code, _, errs := runIn(t, []string{tc.set}, "plan", dir)
		if code != 1 || !strings.Contains(errs, tc.missing+" is not") || strings.Contains(errs, "something") {
			t.Errorf("plan with only %s: exit %d, stderr %q; want one naming %s", tc.set, code, errs, tc.missing)
		}
	}
}

// TestApplyStdinNotATerminal checks that apply with stdin from /dev/null
// (a character device, but no terminal) does not ask, and says to use
// -auto-approve.
func TestApplyStdinNotATerminal(t *testing.T) {
	vh := brokertest.NewVhost(t)
	dir := chainGraph(t, vh.Name, "5s")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out, errb strings.Builder
	e := &env{stdin: null, stdout: &out, stderr: &errb, environ: brokerEnv(vh)}
	code := e.dispatch(t.Context(), []string{"apply", dir})
	if code != 1 || !strings.Contains(errb.String(), "-auto-approve") || strings.Contains(out.String(), "Enter a value") {
		t.Errorf("apply </dev/null: exit %d\nstdout:\n%s\nstderr:\n%s\nwant no prompt and the -auto-approve advice", code, out.String(), errb.String())
	}
}

// TestApplyAtQueueLimit checks that an apply the broker refuses part-way
// (the vhost's max-queues limit) reports the broker's reason, and the
// requests cancelled because of it as such, not as an unreachable
// management API.
func TestApplyAtQueueLimit(t *testing.T) {
	vh := brokertest.NewVhost(t)
	// The limit is reached before apply starts: the broker checks it
	// before each declaration, not atomically with it.
	res, err := vh.Client.DeclareQueue(vh.Name, "foreign", rabbithole.QueueSettings{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = vh.Client.PutVhostLimits(vh.Name, rabbithole.VhostLimitsValues{"max-queues": 1})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	dir := chainGraph(t, vh.Name, "5s")
	code, _, errs := runIn(t, brokerEnv(vh), "apply", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errs, "queue limit in vhost '"+vh.Name+"' (1) is reached") {
		t.Errorf("apply over the queue limit: exit %d, stderr lacks the broker's reason:\n%s", code, errs)
	}
	for _, wrong := range []string{"cannot reach", "management plugin enabled", "wrong credentials"} {
		if strings.Contains(errs, wrong) {
			t.Errorf("apply over the queue limit blames something else (%q):\n%s", wrong, errs)
		}
	}
}

// TestAMQPURLOfAnotherVhost checks that dge refuses a DGE_AMQP_URL naming
// another vhost than the graph's (it would count the graph's queues in the
// wrong vhost), and accepts one without a path.
func TestAMQPURLOfAnotherVhost(t *testing.T) {
	vh := brokertest.NewVhost(t)
	dir := chainGraph(t, vh.Name, "5s")
	u, err := url.Parse(vh.AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawPath = "/elsewhere", ""
	code, _, errs := runIn(t, []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL, "DGE_AMQP_URL=" + u.String()}, "plan", dir)
	if code != 1 || !strings.Contains(errs, `DGE_AMQP_URL names vhost "elsewhere", but the graph's vhost is "`+vh.Name+`"`) {
		t.Errorf("plan with DGE_AMQP_URL naming another vhost: exit %d, stderr %q", code, errs)
	}
	u.Path = ""
	if code, _, errs := runIn(t, []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL, "DGE_AMQP_URL=" + u.String()}, "plan", dir); code != 0 {
		t.Errorf("plan with DGE_AMQP_URL without a path: exit %d, stderr %q", code, errs)
	}
}
