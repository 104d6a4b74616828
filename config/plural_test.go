package config_test

import (
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
)

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		noun string
		want string
	}{
		{0, "message", "0 messages"},
		{1, "message", "1 message"},
		{2, "edge queue", "2 edge queues"},
		{1 << 40, "message", "1099511627776 messages"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			if got := config.Plural(tt.n, tt.noun); got != tt.want {
				t.Errorf("Plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
			}
			if tt.n == int64(int(tt.n)) {
				if got := config.Plural(int(tt.n), tt.noun); got != tt.want {
					t.Errorf("Plural(int %d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
				}
			}
		})
	}
}

func TestPluralForm(t *testing.T) {
	for n, want := range map[int]string{0: "were", 1: "was", 2: "were"} {
		if got := config.PluralForm(n, "was", "were"); got != want {
			t.Errorf("PluralForm(%d, was, were) = %q, want %q", n, got, want)
		}
	}
}

// TestTooFewAggregateInputsCounted checks that the detail of "Too few
// aggregate inputs" counts in English: "0 inputs", "1 input".
func TestTooFewAggregateInputsCounted(t *testing.T) {
	for _, tt := range []struct{ from, want string }{
		{"[]", "aggregate.join has 0 inputs;"},
		{"[process.a]", "aggregate.join has 1 input;"},
	} {
		t.Run(tt.from, func(t *testing.T) {
			src := `
graph "g" {
  handlers = "example.com/g/behaviour"
}
start "in" {}
process "a" {
  from    = start.in
  queue   = "a"
  message = "M"
  handler = "A"
}
aggregate "join" {
  from    = ` + tt.from + `
  queue   = "join"
  message = "M"
  handler = "Join"
}
terminate "out" {
  from    = aggregate.join
  queue   = "out"
  message = "M"
}
`
			_, diags := config.NewLoader().LoadSource("g.dge.hcl", []byte(src), config.Options{})
			for _, d := range diags {
				if d.Summary == "Too few aggregate inputs" {
					if !strings.Contains(d.Detail, tt.want) {
						t.Errorf("detail %q does not say %q", d.Detail, tt.want)
					}
					return
				}
			}
			t.Errorf("no \"Too few aggregate inputs\" among %v", diags)
		})
	}
}
