package cli

import (
	"strings"
	"testing"
)

// TestChooseVhost checks the vhost's precedence: -vhost, DGE_VHOST, the
// URL's path, the graph's; and that only a setting naming another vhost
// than the chosen one is reported, naming both.
func TestChooseVhost(t *testing.T) {
	for _, tt := range []struct {
		name           string
		flag, env, url string
		urlNames       bool
		want, from     string
		overridden     []string // parts of each Overridden sentence
	}{
		{name: "graph only", want: "/", from: fromGraph},
		{name: "URL path", url: "u", urlNames: true, want: "u", from: fromURL},
		{name: "URL names the graph's", url: "/", urlNames: true, want: "/", from: fromURL},
		{name: "env over URL", env: "e", url: "u", urlNames: true, want: "e", from: fromEnv,
			overridden: []string{`DGE_VHOST names vhost "e", the path of DGE_AMQP_URL names "u": using "e"`}},
		{name: "env agrees with URL", env: "u", url: "u", urlNames: true, want: "u", from: fromEnv},
		{name: "env over graph", env: "e", want: "e", from: fromEnv},
		{name: "flag over env", flag: "f", env: "e", want: "f", from: fromFlag,
			overridden: []string{`-vhost names vhost "f", DGE_VHOST names "e"`}},
		{name: "flag over all", flag: "f", env: "e", url: "u", urlNames: true, want: "f", from: fromFlag,
			overridden: []string{`DGE_VHOST names "e"`, `the path of DGE_AMQP_URL names "u"`}},
		{name: "flag agrees", flag: "f", env: "f", url: "f", urlNames: true, want: "f", from: fromFlag},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := chooseVhost(tt.flag, tt.env, tt.url, tt.urlNames, "/")
			if c.Vhost != tt.want || c.From != tt.from {
				t.Errorf("vhost %q from %s, want %q from %s", c.Vhost, c.From, tt.want, tt.from)
			}
			if len(c.Overridden) != len(tt.overridden) {
				t.Fatalf("Overridden = %q, want %d sentences", c.Overridden, len(tt.overridden))
			}
			for i, part := range tt.overridden {
				if !strings.Contains(c.Overridden[i], part) {
					t.Errorf("Overridden[%d] = %q, want it to contain %q", i, c.Overridden[i], part)
				}
			}
		})
	}
}

func TestVhostProblem(t *testing.T) {
	for _, ok := range []string{"", "/", "prod", "a b/c"} {
		if p := vhostProblem(ok); p != "" {
			t.Errorf("vhostProblem(%q) = %q, want none", ok, p)
		}
	}
	for _, bad := range []string{"a\nb", "\xff", strings.Repeat("v", 256)} {
		if vhostProblem(bad) == "" {
			t.Errorf("vhostProblem(%q) found nothing", bad)
		}
	}
}
