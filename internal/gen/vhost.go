package gen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgehq/dge/config"
	"github.com/hashicorp/hcl/v2"
)

// varEnvPrefix starts the environment variables that set graph variables.
const varEnvPrefix = "DGE_VAR_"

// programVhost returns the vhost a generated program is built with: the
// one g's files name with every variable at its default, whatever -var,
// -var-file or DGE_VAR_ gave g. The vhost is where a program runs, chosen
// at run time (-vhost, DGE_VHOST, DGE_AMQP_URL's path), not part of the
// program: so the //go:generate line, which passes no variables, writes the
// same program as dge generate -var vhost=X did. When the variables moved
// the vhost, a warning says how to run the program there. When the graph
// cannot be loaded without them (a variable with no default), g's vhost
// is kept.
func programVhost(g *config.Graph, opts Options) (string, hcl.Diagnostics) {
	if len(g.Files) == 0 {
		return g.Broker.Vhost, nil
	}
	path := g.Files[0]
	if len(g.Files) > 1 {
		path = filepath.Dir(path)
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, varEnvPrefix) {
			kept = append(kept, kv)
		}
	}
	d, diags := config.NewLoader().Load(path, config.Options{Env: kept})
	if diags.HasErrors() || d == nil || d.Broker.Vhost == g.Broker.Vhost {
		return g.Broker.Vhost, nil
	}
	v := d.Broker.Vhost
	return v, hcl.Diagnostics{{
		Severity: hcl.DiagWarning,
		Summary:  "The vhost is chosen at run time",
		Detail: fmt.Sprintf("The variables set the vhost to %q, but the program is built with the graph's default vhost %q, so that go generate, which passes no variables, writes the same program. Run it on %q with DGE_VHOST=%s or -vhost %s.",
			g.Broker.Vhost, v, g.Broker.Vhost, g.Broker.Vhost, g.Broker.Vhost),
		Subject: rangePtr(g.Broker.DeclRange),
	}}
}
