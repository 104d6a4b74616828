package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/dgehq/dge/config"
)

// RenderOptions tunes the text rendering of a plan.
type RenderOptions struct {
	// Color adds ANSI colours to the action symbols.
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiBold   = "\x1b[1m"
)

// Render writes the plan as text in Terraform's manner: one block per
// change with its symbol (+ create, ~ update in place, -/+ replace,
// - destroy), the attributes, "# forces replacement" on the attributes that
// force a replace, the messages a delete or replace would lose, then the
// summary line, the pending moves of an interrupted apply -keep-messages,
// and the diagnostics (errors, then warnings). The output depends only on
// the plan.
func Render(w io.Writer, p *Plan, opts RenderOptions) error {
	r := &renderer{opts: opts}
	switch {
	case p.HasChanges():
		r.changes(p)
	case len(p.Errors()) > 0:
		r.printf("%sNo changes%s to the objects of graph %q in vhost %q, but the vhost is not safe for it: see the errors below.\n", r.c(ansiBold), r.c(ansiReset), p.Graph, p.Vhost)
	case len(p.PendingMoves) > 0:
		r.printf("%sNo changes%s to the objects of graph %q in vhost %q.\n", r.c(ansiBold), r.c(ansiReset), p.Graph, p.Vhost)
	default:
		r.printf("%sNo changes.%s Vhost %q matches graph %q; apply has nothing to do.\n", r.c(ansiBold), r.c(ansiReset), p.Vhost, p.Graph)
	}
	r.pending(p)
	r.diagnostics(p)
	_, err := io.WriteString(w, r.sb.String())
	return err
}

// changes renders the change blocks and the summary line.
func (r *renderer) changes(p *Plan) {
	what := "the following actions"
	if p.Destroy {
		what = "the following actions to destroy graph " + fmt.Sprintf("%q", p.Graph)
	}
	r.printf("dge will perform %s on vhost %q:\n", what, p.Vhost)
	r.printf("Symbols: %s+%s create, %s~%s update in place, %s-%s/%s+%s replace, %s-%s destroy\n",
		r.c(ansiGreen), r.c(ansiReset), r.c(ansiYellow), r.c(ansiReset),
		r.c(ansiRed), r.c(ansiReset), r.c(ansiGreen), r.c(ansiReset), r.c(ansiRed), r.c(ansiReset))
	for _, c := range p.Changes {
		r.printf("\n")
		r.change(c)
	}
	add, change, destroy := p.Counts()
	r.printf("\n%sPlan:%s %d to add, %d to change, %d to destroy.\n", r.c(ansiBold), r.c(ansiReset), add, change, destroy)
}

// pending renders the moves an interrupted apply -keep-messages left.
func (r *renderer) pending(p *Plan) {
	for _, m := range p.PendingMoves {
		r.printf("\n%sNote:%s queue %s holds %s of queue %s, left by an interrupted dge apply -keep-messages; dge apply -keep-messages moves them back.\n",
			r.c(ansiBold), r.c(ansiReset), m.Temporary, config.Plural(m.Messages, "message"), m.Queue)
	}
}

// RenderDiagnostics writes diagnostics alone as Render does (apply of a
// saved plan checks them again).
func RenderDiagnostics(w io.Writer, diags []Diagnostic, opts RenderOptions) error {
	r := &renderer{opts: opts}
	r.diagnostics(&Plan{Diagnostics: diags})
	_, err := io.WriteString(w, r.sb.String())
	return err
}

// diagnostics renders each diagnostic as Terraform does: "Error: summary",
// then the detail, indented and wrapped, but for lines indented by four
// spaces (commands), which are printed whole.
func (r *renderer) diagnostics(p *Plan) {
	for _, d := range p.Diagnostics {
		label, color := "Error", ansiRed
		if d.Severity == SeverityWarning {
			label, color = "Warning", ansiYellow
		}
		r.printf("\n%s%s:%s %s\n", r.c(color+ansiBold), label, r.c(ansiReset), d.Summary)
		r.printf("\n")
		for _, line := range strings.Split(d.Detail, "\n") {
			if strings.HasPrefix(line, "    ") {
				r.printf("  %s\n", line) // a command: unwrapped, to be typed as printed
				continue
			}
			first, next, text := "", "", line
			if rest, ok := strings.CutPrefix(line, "  - "); ok {
				first, next, text = "  - ", "    ", rest
			}
			for i, l := range wrap(text, 76-len(first)) {
				if i == 0 {
					r.printf("  %s%s\n", first, l)
				} else {
					r.printf("  %s%s\n", next, l)
				}
			}
		}
	}
}

// wrap breaks s into lines of at most width bytes at spaces; a longer
// word stays whole on its line.
func wrap(s string, width int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	return append(out, line)
}

// WriteJSON writes the plan as indented JSON, the form -json prints and
// -out saves.
func WriteJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}

type renderer struct {
	opts RenderOptions
	sb   strings.Builder
}

func (r *renderer) c(code string) string {
	if r.opts.Color {
		return code
	}
	return ""
}

func (r *renderer) printf(format string, args ...any) { fmt.Fprintf(&r.sb, format, args...) }

type attr struct{ name, value string }

// attrs flattens an object into its attributes, in a fixed order; map
// entries become name.key, sorted by key.
func attrs(o *Object) []attr {
	if o == nil {
		return nil
	}
	var out []attr
	str := func(name, v string) { out = append(out, attr{name, formatValue(v)}) }
	boolean := func(name string, v bool) { out = append(out, attr{name, fmt.Sprint(v)}) }
	m := func(prefix string, mm map[string]any) {
		for _, k := range sortedKeys(mm) {
			out = append(out, attr{prefix + "." + k, formatValue(mm[k])})
		}
	}
	switch {
	case o.Exchange != nil:
		e := o.Exchange
		str("type", e.Type)
		boolean("durable", e.Durable)
		boolean("auto_delete", e.AutoDelete)
		boolean("internal", e.Internal)
		m("arguments", e.Arguments)
	case o.Queue != nil:
		q := o.Queue
		str("type", q.Type)
		boolean("durable", q.Durable)
		boolean("auto_delete", q.AutoDelete)
		m("arguments", q.Arguments)
	case o.Binding != nil:
		b := o.Binding
		str("source", b.Source)
		str("destination", b.Destination)
		str("destination_type", b.DestinationType)
		str("routing_key", b.RoutingKey)
		m("arguments", b.Arguments)
	case o.Policy != nil:
		p := o.Policy
		str("pattern", p.Pattern)
		str("apply_to", p.ApplyTo)
		out = append(out, attr{"priority", fmt.Sprint(p.Priority)})
		m("definition", p.Definition)
	}
	return out
}

func objectName(c Change) string {
	o := c.After
	if o == nil {
		o = c.Before
	}
	switch {
	case o.Exchange != nil:
		return o.Exchange.Name
	case o.Queue != nil:
		return o.Queue.Name
	case o.Policy != nil:
		return o.Policy.Name
	}
	return strings.TrimPrefix(c.Address, "binding.")
}

func (r *renderer) change(c Change) {
	var symbol, color, verb string
	switch c.Action {
	case Create:
		symbol, color, verb = "  +", ansiGreen, "will be created"
	case Update:
		symbol, color, verb = "  ~", ansiYellow, "will be updated in place"
	case Replace:
		symbol, color, verb = "-/+", ansiRed, "must be replaced"
	case Delete:
		symbol, color, verb = "  -", ansiRed, "will be destroyed"
	}
	r.printf("  %s# %s%s %s\n", r.c(ansiBold), c.Address, r.c(ansiReset), verb)
	if c.Action == Replace {
		r.printf("%s-%s/%s+%s %s %q {\n", r.c(ansiRed), r.c(ansiReset), r.c(ansiGreen), r.c(ansiReset), c.Kind, objectName(c))
	} else {
		r.printf("%s%s%s %s %q {\n", r.c(color), symbol, r.c(ansiReset), c.Kind, objectName(c))
	}

	before, after := attrs(c.Before), attrs(c.After)
	switch c.Action {
	case Create:
		r.attrLines("+", ansiGreen, after, nil)
	case Delete:
		r.attrLines("-", ansiRed, before, nil)
	default:
		forced := map[string]bool{}
		for _, f := range c.ForcedBy {
			forced[f] = true
		}
		r.diffLines(before, after, forced)
	}
	r.printf("    }\n")
	if c.OldKey {
		color := ansiGreen
		if c.Action == Delete {
			color = ansiRed
		}
		r.printf("    %s# %s%s\n", r.c(color), oldKeyNote(c), r.c(ansiReset))
	}
	if c.Kind == KindQueue && (c.Action == Delete || c.Action == Replace) {
		switch {
		case c.Move != nil:
			note := ""
			if c.Consumers > 0 {
				note = fmt.Sprintf(", once its %s stop (apply refuses until then)", config.Plural(c.Consumers, "consumer"))
			}
			r.printf("    %s# %s move to queue %s before the delete%s%s\n",
				r.c(ansiGreen), config.Plural(c.Messages, "message"), c.Move.To, note, r.c(ansiReset))
		case c.Action == Replace && (c.Messages > 0 || c.Consumers > 0):
			r.printf("    %s# %s would be lost, %s attached: apply refuses without -keep-messages (which moves them aside and back, once the consumers stop) or -allow-message-loss%s\n",
				r.c(ansiRed), config.Plural(c.Messages, "message"), config.Plural(c.Consumers, "consumer"), r.c(ansiReset))
		case c.Messages > 0 || c.Consumers > 0:
			r.printf("    %s# %s would be lost, %s attached: apply refuses without -allow-message-loss%s\n",
				r.c(ansiRed), config.Plural(c.Messages, "message"), config.Plural(c.Consumers, "consumer"), r.c(ansiReset))
		}
	}
}

func width(as ...[]attr) int {
	w := 0
	for _, a := range as {
		for _, x := range a {
			w = max(w, len(x.name))
		}
	}
	return w
}

func (r *renderer) attrLines(sym, color string, as []attr, _ map[string]bool) {
	w := width(as)
	for _, a := range as {
		r.printf("      %s%s%s %-*s = %s\n", r.c(color), sym, r.c(ansiReset), w, a.name, a.value)
	}
}

func (r *renderer) diffLines(before, after []attr, forced map[string]bool) {
	w := width(before, after)
	bv := map[string]string{}
	for _, a := range before {
		bv[a.name] = a.value
	}
	av := map[string]string{}
	for _, a := range after {
		av[a.name] = a.value
	}
	// Attribute order: after's order, then those only in before.
	var names []string
	seen := map[string]bool{}
	for _, a := range after {
		names = append(names, a.name)
		seen[a.name] = true
	}
	for _, a := range before {
		if !seen[a.name] {
			names = append(names, a.name)
		}
	}
	unchanged := 0
	for _, n := range names {
		b, inB := bv[n]
		a, inA := av[n]
		note := ""
		if forced[n] {
			note = " " + r.c(ansiRed) + "# forces replacement" + r.c(ansiReset)
		}
		switch {
		case inB && inA && a == b:
			unchanged++
		case inB && inA:
			r.printf("      %s~%s %-*s = %s -> %s%s\n", r.c(ansiYellow), r.c(ansiReset), w, n, b, a, note)
		case inA:
			r.printf("      %s+%s %-*s = %s%s\n", r.c(ansiGreen), r.c(ansiReset), w, n, a, note)
		default:
			r.printf("      %s-%s %-*s = %s -> null%s\n", r.c(ansiRed), r.c(ansiReset), w, n, b, note)
		}
	}
	if unchanged > 0 {
		r.printf("        # (%s hidden)\n", config.Plural(unchanged, "unchanged attribute"))
	}
}
