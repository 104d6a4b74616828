package gen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgehq/dge/config"
)

// TestProgramVhost checks that -var and DGE_VAR_ do not reach the
// program's vhost (a warning says how to run it there), and that a vhost
// the graph names without a variable is kept.
func TestProgramVhost(t *testing.T) {
	const byVar = `graph "g" {
  handlers = "example.com/h"
}
broker {
  vhost = var.vhost
}
variable "vhost" {
  default = "/"
}
start "s" {}
terminate "t" {
  from    = start.s
  queue   = "t"
  message = "M"
}
`
	for _, tt := range []struct {
		name, src string
		opts      config.Options
		want      string
		warns     bool
	}{
		{name: "-var", src: byVar, opts: config.Options{VarArgs: []config.VarArg{{Raw: "vhost=staging"}}}, want: "/", warns: true},
		{name: "DGE_VAR_", src: byVar, opts: config.Options{Env: []string{"DGE_VAR_vhost=staging"}}, want: "/", warns: true},
		{name: "default", src: byVar, want: "/"},
		{name: "literal", src: strings.Replace(byVar, "var.vhost", `"orders"`, 1), want: "orders"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "graph.dge.hcl")
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			g, diags := config.NewLoader().Load(path, tt.opts)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := programVhost(g, Options{Env: tt.opts.Env})
			if got != tt.want {
				t.Errorf("vhost %q, want %q", got, tt.want)
			}
			if warned := len(diags) > 0; warned != tt.warns {
				t.Errorf("warnings %v, want some: %v", diags, tt.warns)
			}
			if tt.warns && !strings.Contains(diags[0].Detail, "DGE_VHOST=staging") {
				t.Errorf("the warning does not say DGE_VHOST=staging: %s", diags[0].Detail)
			}
		})
	}
}
