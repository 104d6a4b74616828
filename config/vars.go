package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// envVarPrefix is the prefix of environment variables that set graph
// variables, as TF_VAR_ does in Terraform.
const envVarPrefix = "DGE_VAR_"

// sensitiveMark marks values of variables declared sensitive, so that no
// diagnostic prints them.
const sensitiveMark = "sensitive"

// decodeVariables decodes each variable's type and settings, then assigns
// values in rising precedence: default, DGE_VAR_name, then -var-file and
// -var in command-line order.
func (s *state) decodeVariables() {
	for _, name := range s.varNames() {
		v := s.vars[name]
		v.typ = cty.DynamicPseudoType
		if attr, ok := v.attrs["type"]; ok && s.typeDefaultsFit(attr.Expr) {
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
			s.diags = append(s.diags, diags...)
			if !diags.HasErrors() {
				v.typ, v.defaults = ty, defaults
				// As Terraform does: a string variable's command-line value
				// is taken raw; any other type's is an HCL expression.
				v.parseHCL = !ty.Equals(cty.String)
			}
		}
		if attr, ok := v.attrs["sensitive"]; ok {
			val, diags := s.evaluate(attr.Expr, nil)
			s.diags = append(s.diags, diags...)
			if !diags.HasErrors() {
				if b, err := convert.Convert(val, cty.Bool); err != nil || b.IsNull() {
					s.diags = append(s.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid sensitive value",
						Detail:   "sensitive must be true or false.",
						Subject:  attr.Expr.Range().Ptr(),
					})
				} else {
					v.sensitive = b.True()
				}
			}
		}
		if attr, ok := v.attrs["description"]; ok {
			val, diags := s.evaluate(attr.Expr, nil)
			s.diags = append(s.diags, diags...)
			if !diags.HasErrors() {
				if _, err := convert.Convert(val, cty.String); err != nil {
					s.diags = append(s.diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid description",
						Detail:   "description must be a string.",
						Subject:  attr.Expr.Range().Ptr(),
					})
				}
			}
		}
		if attr, ok := v.attrs["default"]; ok {
			// Defaults are constants: no variables, locals or functions.
			val, diags := s.evaluate(attr.Expr, nil)
			s.diags = append(s.diags, diags...)
			if !diags.HasErrors() {
				s.setVar(v, val, attr.Expr.Range().Ptr(), "the default")
			} else {
				v.value, v.hasValue = cty.DynamicVal, true
			}
		}
	}

	for _, kv := range s.opts.Env {
		k, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, envVarPrefix) {
			continue
		}
		name := strings.TrimPrefix(k, envVarPrefix)
		v, ok := s.vars[name]
		if !ok {
			// As with TF_VAR_: the environment may hold values for other
			// graphs, so unknown names are ignored.
			continue
		}
		s.setRaw(v, raw, "the environment variable "+k)
	}

	for _, a := range s.opts.VarArgs {
		switch {
		case a.File != "":
			s.loadVarFile(a.File)
		default:
			name, raw, ok := strings.Cut(a.Raw, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				s.diags = append(s.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid -var option",
					Detail:   fmt.Sprintf("The option -var %q is not of the form NAME=VALUE. Write, for example, -var 'vhost=/prod'.", a.Raw),
				})
				continue
			}
			v, ok := s.vars[name]
			if !ok {
				s.diags = append(s.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("The option -var sets %q, but the graph declares no such variable%s. Declare it with a variable %q block, or fix the name.", name, suggestSuffix(name, s.varNames()), name),
				})
				continue
			}
			s.setRaw(v, raw, "-var "+name)
		}
	}

	for _, name := range s.varNames() {
		v := s.vars[name]
		if !v.hasValue {
			s.diags = append(s.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail: fmt.Sprintf("The variable %q has no default and was given no value. Pass one with -var '%s=VALUE', in a -var-file, or in the environment variable %s%s; or give the variable a default.",
					name, name, envVarPrefix, name),
				Subject: v.declRange.Ptr(),
			})
			v.value = cty.DynamicVal
		}
	}
}

// typeDefaultsFit tells whether the default values in a type constraint
// (optional(string, "default")) are within the size limits, which
// typeexpr, evaluating them itself, would not check; it reports those that
// are not.
func (s *state) typeDefaultsFit(expr hcl.Expression) bool {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return true
	}
	fit := true
	hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && call.Name == "optional" && len(call.Args) == 2 {
			// Other errors in the default are typeexpr's to report.
			if s.evaluate(call.Args[1], nil); s.budget.failed != nil {
				s.diags = append(s.diags, s.budget.failed)
				fit = false
			}
		}
		return nil
	})
	return fit
}

// setRaw sets v from a command-line or environment string: taken as is for
// string and untyped variables, parsed as an HCL expression for the rest.
func (s *state) setRaw(v *varDecl, raw, source string) {
	if !v.parseHCL {
		s.setVar(v, cty.StringVal(raw), nil, source)
		return
	}
	filename := fmt.Sprintf("<value for var.%s>", v.name)
	s.loader.files[filename] = &hcl.File{Body: hcl.EmptyBody(), Bytes: []byte(raw)}
	if d := nestingDiag([]byte(raw), filename, true); d != nil {
		d.Detail += fmt.Sprintf(" The value from %s is read as an HCL expression of type %s.", source, typeexpr.TypeString(v.typ))
		s.diags = append(s.diags, s.redact(v, hcl.Diagnostics{d})...)
		v.value, v.hasValue, v.valueRange = cty.DynamicVal, true, nil
		return
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			d.Detail += fmt.Sprintf(" The value from %s is read as an HCL expression of type %s.", source, typeexpr.TypeString(v.typ))
		}
		s.diags = append(s.diags, s.redact(v, diags)...)
		v.value, v.hasValue, v.valueRange = cty.DynamicVal, true, nil
		return
	}
	val, diags := s.evaluate(expr, nil)
	if diags.HasErrors() {
		for _, d := range diags {
			d.Detail += fmt.Sprintf(" The value from %s is read as an HCL expression of type %s, such as 5, [\"a\", \"b\"] or { key = \"value\" }: quote strings inside it.", source, typeexpr.TypeString(v.typ))
		}
		s.diags = append(s.diags, s.redact(v, diags)...)
		v.value, v.hasValue, v.valueRange = cty.DynamicVal, true, nil
		return
	}
	s.setVar(v, val, nil, source)
}

// redact drops the source snippet from diagnostics about a sensitive
// variable's value.
func (s *state) redact(v *varDecl, diags hcl.Diagnostics) hcl.Diagnostics {
	if !v.sensitive {
		return diags
	}
	for _, d := range diags {
		d.Subject, d.Context, d.Expression, d.EvalContext = nil, nil, nil, nil
	}
	return diags
}

// setVar converts val to v's type and records it as v's value. A value
// over the size limits is refused, whichever source gave it.
func (s *state) setVar(v *varDecl, val cty.Value, rng *hcl.Range, source string) {
	if size := sizeOf(val); size.over() {
		subject := rng
		if v.sensitive {
			subject = nil // the snippet would show the value
		}
		s.diags = append(s.diags, tooLarge(subject, fmt.Sprintf("The value for var.%s from %s holds", v.name, source), size, "Pass a smaller value."))
		v.value, v.hasValue, v.valueRange = cty.DynamicVal, true, rng
		return
	}
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		subject := rng
		if v.sensitive {
			subject = nil // the snippet would show the value
		}
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("The value from %s does not fit var.%s's type %s: %s. Pass a value of that type.",
				source, v.name, typeexpr.TypeString(v.typ), err),
			Subject: subject,
		})
		v.value, v.hasValue, v.valueRange = cty.DynamicVal, true, rng
		return
	}
	if v.sensitive {
		conv = conv.Mark(sensitiveMark)
	}
	v.value, v.hasValue, v.valueRange = conv, true, rng
}

// loadVarFile reads a -var-file: an HCL file of name = value attributes,
// or, when its name ends in .json, a JSON object of them.
// Names the graph does not declare get a warning, as in Terraform.
func (s *state) loadVarFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		s.diags = append(s.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cannot read variables file",
			Detail:   fmt.Sprintf("%s. Check the path given to -var-file.", err),
		})
		return
	}
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		if d := jsonNestingDiag(src, path); d != nil {
			s.loader.files[path] = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
			s.diags = append(s.diags, d)
			return
		}
		f, diags = hcljson.Parse(src, path)
		if f != nil {
			s.loader.files[path] = f
		}
	} else {
		f, diags = s.loader.parse(path, src)
	}
	s.diags = append(s.diags, diags...)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	s.diags = append(s.diags, diags...)
	for _, name := range sortedAttrNames(attrs) {
		attr := attrs[name]
		v, ok := s.vars[name]
		if !ok {
			s.diags = append(s.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The file sets %q, but the graph declares no such variable%s, so the value is not used. Remove it, or declare the variable.", name, suggestSuffix(name, s.varNames())),
				Subject:  attr.NameRange.Ptr(),
			})
			continue
		}
		val, vDiags := s.evaluate(attr.Expr, nil)
		if vDiags.HasErrors() {
			s.diags = append(s.diags, s.redact(v, vDiags)...)
			v.value, v.hasValue = cty.DynamicVal, true
			continue
		}
		rng := attr.Expr.Range()
		s.setVar(v, val, &rng, path)
	}
}

func (s *state) varNames() []string {
	names := make([]string, 0, len(s.vars))
	for n := range s.vars {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
