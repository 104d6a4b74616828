package cli

import (
	"flag"
	"fmt"
	"strings"
	"unicode/utf8"
)

// vhostEnv names the variable that chooses the vhost at run time.
const vhostEnv = "DGE_VHOST"

// The sources of a program's vhost, highest precedence first.
const (
	fromFlag  = "-vhost"
	fromEnv   = vhostEnv
	fromURL   = "the path of " + amqpURLEnv
	fromGraph = "the graph"
)

// vhostChoice is the vhost a command connects to and the setting it came
// from.
type vhostChoice struct {
	Vhost string
	From  string // fromFlag, fromEnv, fromURL or fromGraph
	// Overridden lists, one sentence each, the settings that named another
	// vhost and lost to From.
	Overridden []string
}

// chooseVhost picks the vhost by precedence: the -vhost flag (flagVhost,
// "" when not given), then DGE_VHOST (envVhost, "" when unset), then the
// vhost DGE_AMQP_URL's path names (urlVhost, when urlNames), then the
// graph's. A setting that names another vhost than the one chosen is
// reported in Overridden; one that names the same is not. The graph's
// vhost is a default, never a conflict.
func chooseVhost(flagVhost, envVhost, urlVhost string, urlNames bool, graphVhost string) vhostChoice {
	type setting struct{ from, vhost string }
	var given []setting
	if flagVhost != "" {
		given = append(given, setting{fromFlag, flagVhost})
	}
	if envVhost != "" {
		given = append(given, setting{fromEnv, envVhost})
	}
	if urlNames {
		given = append(given, setting{fromURL, urlVhost})
	}
	if len(given) == 0 {
		return vhostChoice{Vhost: graphVhost, From: fromGraph}
	}
	c := vhostChoice{Vhost: given[0].vhost, From: given[0].from}
	for _, s := range given[1:] {
		if s.vhost != c.Vhost {
			c.Overridden = append(c.Overridden, fmt.Sprintf("%s names vhost %q, %s names %q: using %q (%s wins; unset one of them to silence this)",
				c.From, c.Vhost, s.from, s.vhost, c.Vhost, c.From))
		}
	}
	return c
}

// Describe says which vhost is used and why, for -h: `"prod" (from
// DGE_VHOST; the graph's is "/")`.
func (c vhostChoice) Describe(graphVhost string) string {
	if c.From == fromGraph {
		return fmt.Sprintf("%q (the graph's; -vhost, %s or a path in %s choose another)", c.Vhost, vhostEnv, amqpURLEnv)
	}
	return fmt.Sprintf("%q (from %s; the graph's is %q)", c.Vhost, c.From, graphVhost)
}

// vhostProblem returns why name cannot be a vhost, or "".
func vhostProblem(name string) string {
	switch {
	case len(name) > 255:
		return fmt.Sprintf("is %d bytes long; RabbitMQ allows 255", len(name))
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "holds a control character"
	}
	return ""
}

// vhostFlag registers -vhost on fs and returns its value ("" when not
// given).
func vhostFlag(fs *flag.FlagSet) *string {
	return fs.String("vhost", "", fmt.Sprintf("the RabbitMQ vhost to use (overrides %s, the path of %s and the graph's vhost)", vhostEnv, amqpURLEnv))
}

// vhost returns the vhost chosen by flagVhost (the -vhost flag, "" when not
// given), the environment and the graph, without DGE_AMQP_URL's path when
// urlVhost is "" and urlNames false. Its error is a usage error.
func (c *cli) vhost(flagVhost, urlVhost string, urlNames bool) (vhostChoice, error) {
	env := c.getenv(vhostEnv)
	for _, s := range []struct{ name, v string }{{fromFlag, flagVhost}, {vhostEnv, env}} {
		if p := vhostProblem(s.v); p != "" {
			return vhostChoice{}, usageError{fmt.Sprintf("%s: the vhost %s: give the name of a vhost, e.g. %s=/ or %s=prod", s.name, p, vhostEnv, vhostEnv)}
		}
	}
	return chooseVhost(flagVhost, env, urlVhost, urlNames, c.g.Vhost), nil
}
