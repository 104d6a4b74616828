package cli

import (
	"context"
	"strings"
	"testing"

	dge "github.com/dgehq/dge/runtime"
)

// TestPublishBareWord publishes an unquoted string, as a user typing
// publish start Income does: the error says a JSON value was expected and
// shows the quoted form to type, and nothing is published (no broker is
// reached: the input is refused first).
func TestPublishBareWord(t *testing.T) {
	g := dge.Graph{
		Name: "words", Vhost: "/", WorkExchange: "words.work", RetryExchange: "words.retry", QueueType: "classic",
		Nodes: []dge.Node{
			dge.Start[string]("start", "in"),
			dge.Terminate[string]("out", dge.Edge{Queue: "in", Message: "string", MaxAttempts: 5, Concurrency: 1}),
		},
	}
	unreachable := func(k string) string {
		if k == "DGE_AMQP_URL" {
			return "amqp://127.0.0.1:1/"
		}
		return ""
	}
	for _, tt := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{args: []string{"publish", "start", "Income"},
			want: `publish: argument 1 is not a valid start.start message: a JSON value was expected, and a string must be quoted: give '"Income"' (nothing was published)`},
		{args: []string{"publish", "start", `"ok"`, "hello world"},
			want: `argument 2 is not a valid start.start message: a JSON value was expected, and a string must be quoted: give '"hello world"'`},
		{args: []string{"publish", "start"}, stdin: "\"fine\"\nIncome\n",
			want: `publish: stdin line 2 is not a valid start.start message: a JSON value was expected, and a string must be quoted: give "Income" (nothing was published)`},
		{args: []string{"publish", "start", `{"a":1,}`},
			want: `argument 1 is not a valid start.start message: a JSON value was expected (invalid character '}' looking for beginning of object key string at byte 8)`},
	} {
		var out, errb strings.Builder
		code := Run(context.Background(), g, tt.args, unreachable, strings.NewReader(tt.stdin), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant it to contain:\n%s", tt.args, code, errb.String(), tt.want)
		}
		if strings.Contains(errb.String(), "connect") {
			t.Errorf("%q: tried to connect before checking its input:\n%s", tt.args, errb.String())
		}
	}
}
