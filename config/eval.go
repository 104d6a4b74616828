package config

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evalLocals orders the local values by their references (taken from the
// syntax, before any evaluation), reports cycles with their path, and
// evaluates them in order, growing the evaluation context as it goes.
func (s *state) evalLocals() {
	s.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: functions(s.opts.Env, &s.budget),
	}
	vars := map[string]cty.Value{}
	for name, v := range s.vars {
		vars[name] = v.value
	}
	s.ctx.Variables["var"] = cty.ObjectVal(vars)

	names := make([]string, 0, len(s.locals))
	for n := range s.locals {
		names = append(names, n)
	}
	sort.Strings(names)
	valid := map[string]bool{}
	for _, n := range names {
		l := s.locals[n]
		deps, ok := s.checkRefs(l.attr.Expr)
		l.deps = deps
		valid[n] = ok
	}

	// Depth-first search in name order: a local is evaluated after its
	// dependencies; a reference back into the current path is a cycle.
	const (
		unvisited = iota
		visiting
		done
	)
	mark := map[string]int{}
	var stack []string
	inCycle := map[string]bool{}
	values := map[string]cty.Value{}
	var visit func(n string)
	visit = func(n string) {
		mark[n] = visiting
		stack = append(stack, n)
		l := s.locals[n]
		for _, d := range l.deps {
			switch mark[d] {
			case unvisited:
				visit(d)
			case visiting:
				i := indexOf(stack, d)
				path := make([]string, 0, len(stack)-i+1)
				for _, m := range stack[i:] {
					path = append(path, "local."+m)
					inCycle[m] = true
				}
				path = append(path, "local."+d)
				s.diags = append(s.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Cycle in local values",
					Detail:   fmt.Sprintf("The local values refer to each other in a loop: %s. A local value cannot depend on itself: break the loop.", strings.Join(path, " → ")),
					Subject:  s.localRefRange(l, d),
				})
			}
		}
		stack = stack[:len(stack)-1]
		mark[n] = done
		if inCycle[n] || !valid[n] || anyUnknownDep(l.deps, values) {
			l.value = cty.DynamicVal
		} else {
			val, diags := s.evaluate(l.attr.Expr, s.localContext(l.deps, values))
			s.diags = append(s.diags, diags...)
			if diags.HasErrors() {
				val = cty.DynamicVal
			}
			l.value = val
		}
		values[n] = l.value
	}
	for _, n := range names {
		if mark[n] == unvisited {
			visit(n)
		}
	}
	s.ctx.Variables["local"] = cty.ObjectVal(values)
}

// localContext returns the context a local with the dependencies deps is
// evaluated in: the graph's, with local.* holding only deps. A context of
// every local evaluated so far would be rebuilt for each local, costing
// time in the square of their number.
func (s *state) localContext(deps []string, values map[string]cty.Value) *hcl.EvalContext {
	if len(deps) == 0 {
		return s.ctx
	}
	local := make(map[string]cty.Value, len(deps))
	for _, d := range deps {
		local[d] = values[d]
	}
	ctx := s.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(local)}
	return ctx
}

func anyUnknownDep(deps []string, values map[string]cty.Value) bool {
	for _, d := range deps {
		if v, ok := values[d]; !ok || !v.IsWhollyKnown() {
			return true
		}
	}
	return false
}

// localRefRange returns the range of l's reference to local.dep.
func (s *state) localRefRange(l *localDecl, dep string) *hcl.Range {
	for _, t := range l.attr.Expr.Variables() {
		if t.RootName() == "local" && len(t) > 1 {
			if a, ok := t[1].(hcl.TraverseAttr); ok && a.Name == dep {
				r := t.SourceRange()
				return &r
			}
		}
	}
	return l.attr.NameRange.Ptr()
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// checkRefs checks every reference in expr: only var.NAME and local.NAME of
// declared variables and locals may appear. It returns the names of the
// locals expr refers to, and whether every reference was valid.
func (s *state) checkRefs(expr hcl.Expression) ([]string, bool) {
	ok := true
	var deps []string
	for _, t := range expr.Variables() {
		root := t.RootName()
		rng := t.SourceRange()
		var attrName string
		if len(t) > 1 {
			if a, isAttr := t[1].(hcl.TraverseAttr); isAttr {
				attrName = a.Name
			}
		}
		switch root {
		case "var", "local":
			what := map[string]string{"var": "input variable", "local": "local value"}[root]
			if attrName == "" {
				s.diags = append(s.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("A reference to an %s is written %s.NAME.", what, root),
					Subject:  &rng,
				})
				ok = false
				continue
			}
			if !s.declared(root, attrName) {
				fix := fmt.Sprintf("Declare it with variable %q {}", attrName)
				if root == "local" {
					fix = fmt.Sprintf("Define it in a locals block (%s = ...)", attrName)
				}
				s.diags = append(s.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared " + what,
					Detail:   fmt.Sprintf("No %s named %q is declared%s. %s, or fix the name.", what, attrName, s.suggestRef(root, attrName), fix),
					Subject:  &rng,
				})
				ok = false
				continue
			}
			if root == "local" {
				deps = append(deps, attrName)
			}
		default:
			detail := fmt.Sprintf("There is no variable named %q. Expressions may refer to var.NAME and local.NAME; quote the text if it is meant as a string.", root)
			if isKind(root) {
				detail = fmt.Sprintf("%s is a node; a node may be referred to only in a from argument. Here use a string, var.NAME or local.NAME.", t.RootName()+dotted(attrName))
			}
			s.diags = append(s.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference",
				Detail:   detail,
				Subject:  &rng,
			})
			ok = false
		}
	}
	return deps, ok
}

// declared tells whether var.NAME or local.NAME (root "var" or "local")
// is declared.
func (s *state) declared(root, name string) bool {
	if root == "var" {
		_, ok := s.vars[name]
		return ok
	}
	_, ok := s.locals[name]
	return ok
}

// maxSuggestions bounds the references to undeclared names that get a "did
// you mean" suggestion: each compares the name with every declared one, so
// that thousands of bad references among thousands of locals would
// otherwise take time in the square of their number.
const maxSuggestions = 100

// suggestRef returns the suggestion suffix for a reference to an
// undeclared var.NAME or local.NAME, while fewer than maxSuggestions have
// been made.
func (s *state) suggestRef(root, name string) string {
	if s.suggestions >= maxSuggestions {
		return ""
	}
	s.suggestions++
	var known []string
	if root == "var" {
		known = s.varNames()
	} else {
		for n := range s.locals {
			known = append(known, n)
		}
		sort.Strings(known)
	}
	return suggestSuffix(name, known)
}

func dotted(s string) string {
	if s == "" {
		return ""
	}
	return "." + s
}

func isKind(s string) bool {
	for _, k := range Kinds {
		if string(k) == s {
			return true
		}
	}
	return false
}

// evalAttr evaluates attr in the graph's context and converts the result to
// ty. ok is false when the attribute could not be evaluated; the reason is
// already reported (or, for a value that depends on one that failed, was
// reported where that failed). sensitive tells whether the value derives
// from a sensitive variable, in which case no diagnostic may show it.
func (s *state) evalAttr(attr *hcl.Attribute, ty cty.Type, what string) (val cty.Value, sensitive, ok bool) {
	if _, refsOK := s.checkRefs(attr.Expr); !refsOK {
		return cty.NilVal, false, false
	}
	val, diags := s.evaluate(attr.Expr, s.ctx)
	if diags.HasErrors() {
		s.diags = append(s.diags, diags...)
		return cty.NilVal, false, false
	}
	s.diags = append(s.diags, diags...)
	val, marks := val.UnmarkDeep()
	sensitive = len(marks) > 0
	if !val.IsWhollyKnown() {
		return cty.NilVal, sensitive, false
	}
	if val.IsNull() {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing value",
			Detail:   fmt.Sprintf("%s is null. Give it a value (null is not a value here).", what),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.NilVal, sensitive, false
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   fmt.Sprintf("%s must be a %s: %s. Write a value of that type.", what, ty.FriendlyName(), err),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.NilVal, sensitive, false
	}
	if !conv.IsWhollyKnown() {
		return cty.NilVal, sensitive, false
	}
	return conv, sensitive, true
}

// evalString evaluates a string attribute.
func (s *state) evalString(attr *hcl.Attribute, what string) (str string, sensitive, ok bool) {
	val, sensitive, ok := s.evalAttr(attr, cty.String, what)
	if !ok {
		return "", sensitive, false
	}
	return val.AsString(), sensitive, true
}

// evalCount evaluates a whole number that must lie in [1, max].
func (s *state) evalCount(attr *hcl.Attribute, what string, max int64) (int, bool) {
	n, _, ok := s.evalCountWhy(attr, what, max, "")
	return n, ok
}

// evalCountWhy is evalCount, with why (a sentence, after a space) said when
// the number is out of range; sensitive tells whether the number derives
// from a sensitive variable.
func (s *state) evalCountWhy(attr *hcl.Attribute, what string, max int64, why string) (n int, sensitive, ok bool) {
	val, sensitive, ok := s.evalAttr(attr, cty.Number, what)
	if !ok {
		return 0, sensitive, false
	}
	bf := val.AsBigFloat()
	shown := bf.Text('g', -1)
	if sensitive {
		shown = "(sensitive value)"
	}
	if !bf.IsInt() {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid number",
			Detail:   fmt.Sprintf("%s must be a whole number, not %s. Write, for example, %s = 3.", what, shown, attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, sensitive, false
	}
	if bf.Cmp(big.NewFloat(1)) < 0 || bf.Cmp(new(big.Float).SetInt64(max)) > 0 {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Number out of range",
			Detail:   fmt.Sprintf("%s must be between 1 and %d, not %s.%s Use a value in that range.", what, max, shown, why),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, sensitive, false
	}
	i, _ := bf.Int64()
	return int(i), sensitive, true
}

// maxTTL is the longest delay RabbitMQ accepts as a message TTL (2³²−1 ms).
const maxTTL = time.Duration(math.MaxUint32) * time.Millisecond

// evalDuration evaluates a duration written in Go syntax ("10s", "1m30s").
// It must be positive; ttl durations become RabbitMQ message TTLs and must
// also be whole milliseconds no longer than maxTTL.
func (s *state) evalDuration(attr *hcl.Attribute, what string, ttl bool) (time.Duration, bool) {
	d, _, ok := s.evalDurationSens(attr, what, ttl)
	return d, ok
}

// evalDurationSens is evalDuration, also telling whether the duration
// derives from a sensitive variable.
func (s *state) evalDurationSens(attr *hcl.Attribute, what string, ttl bool) (d time.Duration, sensitive, ok bool) {
	str, sensitive, ok := s.evalString(attr, what)
	if !ok {
		return 0, sensitive, false
	}
	shown := fmt.Sprintf("%q", str)
	if sensitive {
		shown = "(sensitive value)"
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("%s is %s, which is not a duration. Write a number with a unit, such as \"500ms\", \"10s\", \"5m\" or \"1h30m\".", what, shown),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, sensitive, false
	}
	if d <= 0 {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("%s is %s; it must be longer than zero. Write a positive duration such as \"10s\".", what, shown),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, sensitive, false
	}
	if ttl && (d%time.Millisecond != 0 || d > maxTTL) {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("%s is %s; RabbitMQ delays messages by whole milliseconds, up to %s. Write a whole number of milliseconds in that range.", what, shown, maxTTL),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0, sensitive, false
	}
	return d, sensitive, true
}

// suggestSuffix returns ` (did you mean "x"?)` for the name in known that
// is closest to given, or "" when none is close, as hcl does.
func suggestSuffix(given string, known []string) string {
	if s := suggest(given, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func suggest(given string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := levenshtein.Distance(given, k, nil); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// sortByRange sorts items by the source position of each, file name first.
func sortByRange[T any](items []T, rng func(T) hcl.Range) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := rng(items[i]), rng(items[j])
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}
