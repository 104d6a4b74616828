package config

import (
	"fmt"
	"go/token"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"

	"github.com/dgehq/dge/topology"
)

// nameRE is the rule for node and graph names: they become Go-ish
// identifiers, kebab-case subcommands and file names.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxAMQPName is the longest queue, exchange or vhost name RabbitMQ accepts,
// in bytes (an AMQP short string).
const maxAMQPName = 255

// derivedSuffixes lists the suffixes dge appends to an edge queue's name.
var derivedSuffixes = topology.Suffixes

// longestSuffix is the length of the longest derived suffix: an edge
// queue's name must leave room for it.
var longestSuffix = func() int {
	n := 0
	for _, s := range derivedSuffixes {
		n = max(n, len(s))
	}
	return n
}()

// nameProblem returns why name is not a valid node or graph name, or "".
func nameProblem(name string) string {
	if nameRE.MatchString(name) {
		return ""
	}
	return fmt.Sprintf("%q is not a valid name: a name starts with a lower-case letter and holds only lower-case letters, digits and underscores, because it becomes part of Go names, subcommands and file names. Rename it, for example to %q.", name, fixName(name))
}

// ReservedNames are the subcommands of a generated program that are not
// nodes; a node may not take one of these names, or its subcommand would be
// unreachable.
var ReservedNames = []string{"all", "consume", "help", "local", "publish", "topology"}

// reservedProblem returns why name cannot name a node, or "".
func reservedProblem(name string) string {
	for _, r := range ReservedNames {
		if name == r {
			return fmt.Sprintf("%q is a subcommand of the generated program (%s), so a node with this name could not be run. Rename the node, for example to %q.", name, strings.Join(ReservedNames, ", "), name+"_node")
		}
	}
	return ""
}

// fixName suggests a valid name close to name.
func fixName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.Trim(b.String(), "_")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "n" + s
	}
	return s
}

// amqpNameProblem returns why name is not a valid queue or exchange name
// for dge, or "". what names the object ("queue", "exchange"); room is the
// number of bytes a derived suffix needs after the name.
func amqpNameProblem(name, what string, room int) string {
	switch {
	case name == "":
		return fmt.Sprintf("The %s name is empty. Give it a name.", what)
	case len(name)+room > maxAMQPName:
		if room > 0 {
			return fmt.Sprintf("The %s name is %d bytes long; RabbitMQ allows %d bytes, and dge appends up to %d (%s). Shorten it to at most %d bytes.",
				what, len(name), maxAMQPName, room, strings.Join(derivedSuffixes, ", "), maxAMQPName-room)
		}
		return fmt.Sprintf("The %s name is %d bytes long; RabbitMQ allows %d. Shorten it.", what, len(name), maxAMQPName)
	case strings.HasPrefix(name, "amq."):
		return fmt.Sprintf("%q starts with \"amq.\", which RabbitMQ reserves for itself. Choose another %s name.", name, what)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == ':' || r == '-') {
			return fmt.Sprintf("%q holds the character %q. dge %s names may hold only letters, digits and the characters _ . : - (so that no name can change the meaning of generated files). Rename it.", name, r, what)
		}
	}
	return ""
}

// queueNameProblem returns why name is not a valid edge queue name, or "".
func queueNameProblem(name string) string {
	if p := amqpNameProblem(name, "queue", longestSuffix); p != "" {
		return p
	}
	for _, suf := range derivedSuffixes {
		if strings.HasSuffix(name, suf) {
			return fmt.Sprintf("%q ends in %q, which dge reserves for the queues it derives from an edge queue Q (Q%s). Choose a name without that ending.", name, suf, strings.Join(derivedSuffixes, ", Q"))
		}
	}
	return ""
}

// vhostProblem returns why name is not a valid virtual host name, or "".
func vhostProblem(name string) string {
	switch {
	case name == "":
		return "The vhost is empty. Use \"/\" for RabbitMQ's default virtual host, or a name."
	case len(name) > maxAMQPName:
		return fmt.Sprintf("The vhost name is %d bytes long; RabbitMQ allows %d. Shorten it.", len(name), maxAMQPName)
	case !utf8.ValidString(name):
		return "The vhost name is not valid UTF-8. Rename it."
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Sprintf("The vhost name %q holds the control character %q. Remove it.", name, r)
		}
	}
	return ""
}

// goNameProblem returns why name is not an exported Go identifier, or "".
// what says what the name is for ("handler", "message type").
func goNameProblem(name, what string) string {
	if token.IsIdentifier(name) && token.IsExported(name) {
		return ""
	}
	if token.IsIdentifier(name) {
		return fmt.Sprintf("%q is not exported: a %s is looked up in the handlers package, so its name must start with an upper-case letter. Write %q, and export it in Go.", name, what, ExportedName(name))
	}
	return fmt.Sprintf("%q is not a Go identifier: a %s names a declaration in the handlers package (letters, digits and underscores, starting with an upper-case letter). Write its Go name, such as \"Double\".", name, what)
}

// ExportedName returns name with its first letter in upper case: the
// exported Go name to suggest for a handler or message type written in lower
// case ("double" → "Double"). An empty name stays empty.
func ExportedName(name string) string {
	if name == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[n:]
}

// importPathProblem returns why path is not a Go import path, or "".
func importPathProblem(path string) string {
	if err := module.CheckImportPath(path); err != nil {
		return fmt.Sprintf("%q is not a Go import path (%s). Write the import path of the package that holds the handlers, such as \"example.com/project/behaviour\".", path, strings.TrimPrefix(err.Error(), "malformed import path "+fmt.Sprintf("%q", path)+": "))
	}
	return ""
}
