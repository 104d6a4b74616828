package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dgehq/dge/internal/brokertest"
)

// adviceFlags finds the flags a refusal tells the user to pass.
var adviceFlags = regexp.MustCompile(`pass (-[a-z-]+)`)

// TestDestroyPlanAdvice checks that a destroy that would lose messages,
// by dge destroy or by dge apply of a saved destroy plan, advises only
// flags the command has and that apply to a destroy (no -keep-messages,
// which replaces queues keeping their messages), and that the advice,
// followed, works.
func TestDestroyPlanAdvice(t *testing.T) {
	vh := brokertest.NewVhost(t)
	environ := brokerEnv(vh)
	dir := chainGraph(t, vh.Name, "5s")
	if code, _, errs := runIn(t, environ, "apply", "-auto-approve", dir); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	ch, err := vh.Dial(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(t.Context(), "", "out", true, false, amqp.Publishing{Body: []byte(`{}`), DeliveryMode: amqp.Persistent}); err != nil {
		t.Fatal(err)
	}

	saved := filepath.Join(t.TempDir(), "destroy.plan")
	if code, out, errs := runIn(t, environ, "plan", "-destroy", "-out", saved, dir); code != 0 {
		t.Fatalf("plan -destroy -out: exit %d\n%s\n%s", code, out, errs)
	}
	for _, c := range []struct{ name, cmd, arg string }{
		{"destroy", "destroy", dir},
		{"saved destroy plan", "apply", saved},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{c.cmd, c.arg}
			if c.cmd == "destroy" {
				args = []string{c.cmd, "-auto-approve", c.arg}
			}
			code, _, errs := runIn(t, environ, args...)
			if code != 1 || !strings.Contains(errs, "queue out: it holds 1 message") {
				t.Fatalf("dge %s: exit %d, want the refusal to lose the message of out:\n%s", strings.Join(args, " "), code, errs)
			}
			if strings.Contains(errs, "-keep-messages") {
				t.Errorf("the advice for a destroy names -keep-messages, which does not apply to it:\n%s", errs)
			}
			flags := adviceFlags.FindAllStringSubmatch(errs, -1)
			if len(flags) == 0 {
				t.Fatalf("the refusal advises no flag:\n%s", errs)
			}
			if c.cmd != "apply" {
				return // followed below, once
			}
			// Follow the advice: pass each flag it names.
			args = []string{c.cmd}
			for _, f := range flags {
				args = append(args, f[1])
			}
			args = append(args, c.arg)
			if code, out, errs := runIn(t, environ, args...); code != 0 {
				t.Fatalf("dge %s (as advised): exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
			}
			if code, out, _ := runIn(t, environ, "plan", "-destroy", "-detailed-exitcode", dir); code != 0 {
				t.Errorf("plan -destroy after the advised apply: exit %d, want 0 (nothing left)\n%s", code, out)
			}
		})
	}
}
