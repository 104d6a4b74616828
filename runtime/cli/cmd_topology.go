package cli

import (
	"fmt"
	"io"
)

// cmdTopology prints the broker objects the program expects.
func (c *cli) cmdTopology(args []string) error {
	fs := c.flagSet("topology", "topology", `
Prints the exchanges, queues and bindings the program expects on the
broker (dge apply creates them), in the vhost the commands that connect
use: -vhost, DGE_VHOST, DGE_AMQP_URL's path or the graph's.`, false)
	vhost := vhostFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("topology: unexpected argument %q", fs.Arg(0))}
	}
	if _, err := c.vhost(*vhost, "", false); err != nil {
		return err
	}
	g := c.g
	g.Vhost = c.vhostFor(*vhost).Vhost
	_, err := io.WriteString(c.stdout, g.TopologyText())
	return err
}
