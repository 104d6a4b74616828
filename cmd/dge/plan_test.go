package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
)

// runIn drives the CLI in-process with the given environment.
func runIn(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, environ: environ}
	code = e.dispatch(t.Context(), args)
	return code, out.String(), errb.String()
}

// chainGraph writes a three-node graph for vhost into a temporary folder.
func chainGraph(t *testing.T, vhost, retry string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`graph "c" {
  handlers = "example.com/h"
}
broker {
  vhost      = %q
  queue_type = "classic"
}
start "start" {}
process "a" {
  from    = start.start
  queue   = "a_in"
  message = "M"
  handler = "A"
  retry   = %q
}
terminate "out" {
  from    = process.a
  queue   = "out"
  message = "M"
}
`, vhost, retry)
	if err := os.WriteFile(filepath.Join(dir, "graph.dge.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func brokerEnv(vh brokertest.Vhost) []string {
	return []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL, "DGE_AMQP_URL=" + vh.AMQPURL}
}

func TestPlanApplyDestroyCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")

	code, out, errs := runIn(t, environ, "plan", "-detailed-exitcode", dir)
	if code != 2 || !strings.Contains(out, "Plan: 16 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("plan from empty: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, _, errs = runIn(t, environ, "apply", dir)
	if code != 1 || !strings.Contains(errs, "-auto-approve") {
		t.Fatalf("apply without a terminal or -auto-approve: exit %d, stderr %q; want a refusal naming -auto-approve", code, errs)
	}

	code, out, errs = runIn(t, environ, "apply", "-auto-approve", dir)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 16 added, 0 changed, 0 destroyed.") {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, out, _ = runIn(t, environ, "plan", "-detailed-exitcode", dir)
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan after apply: exit %d, want 0 and No changes.\n%s", code, out)
	}

	// A saved plan applies while fresh, and is refused once stale.
	dir2 := chainGraph(t, vh.Name, "7s")
	planFile := filepath.Join(t.TempDir(), "change.plan")
	code, _, errs = runIn(t, environ, "plan", "-out", planFile, dir2)
	if code != 0 {
		t.Fatalf("plan -out: exit %d: %s", code, errs)
	}
	stale := filepath.Join(t.TempDir(), "stale.plan")
	if code, _, errs := runIn(t, environ, "plan", "-out", stale, dir2); code != 0 {
		t.Fatalf("plan -out: exit %d: %s", code, errs)
	}
	code, out, errs = runIn(t, environ, "apply", planFile)
	if code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added, 1 changed, 0 destroyed.") {
		t.Fatalf("apply saved plan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, _, errs = runIn(t, environ, "apply", stale)
	if code != 1 || !strings.Contains(errs, "run dge plan again") {
		t.Fatalf("apply of a stale saved plan: exit %d, stderr %q; want a refusal saying to run dge plan again", code, errs)
	}

	code, out, _ = runIn(t, environ, "plan", "-json", "-detailed-exitcode", dir2)
	if code != 0 || !strings.Contains(out, `"format_version": "1.0"`) || !strings.Contains(out, `"changes": null`) {
		t.Fatalf("plan -json after the saved apply: exit %d\n%s", code, out)
	}

	code, out, errs = runIn(t, environ, "destroy", "-auto-approve", dir2)
	if code != 0 || !strings.Contains(out, "Destroy complete! Resources: 17 destroyed.") {
		t.Fatalf("destroy: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, _ = runIn(t, environ, "plan", "-detailed-exitcode", dir2)
	if code != 2 || !strings.Contains(out, "17 to add") {
		t.Fatalf("plan after destroy: exit %d\n%s", code, out)
	}
}

func TestManagementErrorsSayWhatToDoWithoutThePassword(t *testing.T) {
	vh := brokertest.NewVhost(t)
	mu, err := url.Parse(vh.ManagementURL)
	if err != nil {
		t.Fatal(err)
	}
	// A user of our own with a password we can look for.
	b := make([]byte, 8)
	rand.Read(b)
	user, password := "dge-test-"+hex.EncodeToString(b[:4]), "pw-"+hex.EncodeToString(b)
	res, err := vh.Client.PutUser(user, rabbithole.UserSettings{Password: password, Tags: rabbithole.UserTags{"policymaker"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	t.Cleanup(func() {
		if res, err := vh.Client.DeleteUser(user); err == nil {
			res.Body.Close()
		}
	})
	res, err = vh.Client.UpdatePermissionsIn(vh.Name, user, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	withUser := func(u *url.URL, user, pass string) string {
		c := *u
		c.User = url.UserPassword(user, pass)
		return c.String()
	}
	dir := chainGraph(t, vh.Name, "5s")

	// The user works, and nothing printed holds its password.
	good := []string{"DGE_MANAGEMENT_URL=" + withUser(mu, user, password)}
	code, out, errs := runIn(t, good, "apply", "-auto-approve", dir)
	if code != 0 {
		t.Fatalf("apply as %s: exit %d: %s", user, code, errs)
	}
	if strings.Contains(out+errs, password) {
		t.Errorf("apply output holds the password")
	}

	// Missing vhost with the same user, password from the variables.
	missing := chainGraph(t, vh.Name+"-missing", "5s")
	env := []string{"DGE_MANAGEMENT_URL=" + mu.Scheme + "://" + mu.Host, "DGE_MANAGEMENT_USERNAME=" + user, "DGE_MANAGEMENT_PASSWORD=" + password}
	code, out, errs = runIn(t, env, "plan", missing)
	if code != 1 || !strings.Contains(errs, "404") || !strings.Contains(errs, "rabbitmqctl add_vhost") {
		t.Errorf("plan for a missing vhost: exit %d, stderr %q", code, errs)
	}
	if strings.Contains(out+errs, password) {
		t.Errorf("missing-vhost output holds the password: %s", errs)
	}
	// An administrator exports definitions, which answer 400
	// vhost_not_found rather than 404: the same advice.
	code, _, errs = runIn(t, []string{"DGE_MANAGEMENT_URL=" + vh.ManagementURL}, "plan", missing)
	if code != 1 || !strings.Contains(errs, "vhost_not_found") || !strings.Contains(errs, "rabbitmqctl add_vhost") {
		t.Errorf("plan for a missing vhost as an administrator: exit %d, stderr %q", code, errs)
	}

	// Wrong password.
	wrong := password + "-wrong"
	code, out, errs = runIn(t, []string{"DGE_MANAGEMENT_URL=" + withUser(mu, user, wrong)}, "plan", dir)
	if code != 1 || !strings.Contains(errs, "401") || !strings.Contains(errs, "DGE_MANAGEMENT_PASSWORD") {
		t.Errorf("plan with a wrong password: exit %d, stderr %q", code, errs)
	}
	if strings.Contains(out+errs, password) {
		t.Errorf("wrong-password output holds the password: %s", errs)
	}

	// Nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	code, out, errs = runIn(t, []string{"DGE_MANAGEMENT_URL=http://" + user + ":" + password + "@" + addr}, "plan", dir)
	if code != 1 || !strings.Contains(errs, "cannot reach the RabbitMQ management API at http://"+addr) || !strings.Contains(errs, "rabbitmq-plugins enable rabbitmq_management") {
		t.Errorf("plan with nothing listening: exit %d, stderr %q", code, errs)
	}
	if strings.Contains(out+errs, password) {
		t.Errorf("unreachable output holds the password: %s", errs)
	}
}

func TestApplyRefusesNonEmptyRemovalCLI(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	conn := vh.Dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", "out", true, false, amqpMsg())
	if err != nil {
		t.Fatal(err)
	}
	dc.Wait()
	code, _, errs := runIn(t, environ, "destroy", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errs, "queue out: it holds 1 message") || !strings.Contains(errs, "-allow-message-loss") {
		t.Fatalf("destroy with a message in out: exit %d, stderr %q", code, errs)
	}
	code, out, errs := runIn(t, environ, "destroy", "-auto-approve", "-allow-message-loss", dir)
	if code != 0 || !strings.Contains(out, "Destroy complete!") {
		t.Fatalf("destroy -allow-message-loss: exit %d\n%s\n%s", code, out, errs)
	}
}

func amqpMsg() amqp.Publishing {
	return amqp.Publishing{Body: []byte(`{}`), DeliveryMode: amqp.Persistent}
}
