package cli

import (
	"fmt"
	"io"
)

// cmdTopology prints the broker objects the program expects.
func (c *cli) cmdTopology(args []string) error {
	fs := c.flagSet("topology", "topology", `
Prints the exchanges, queues and bindings the program expects on the
broker (dge apply creates them).`, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("topology: unexpected argument %q", fs.Arg(0))}
	}
	_, err := io.WriteString(c.stdout, c.g.TopologyText())
	return err
}
