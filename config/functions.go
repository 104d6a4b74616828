package config

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions returns the functions a graph's expressions may call: a curated
// set from cty's stdlib plus env(), which reads env (os.Environ form). Those
// whose result can dwarf their arguments are limited: a call is refused,
// through b, before it builds a result over the size limits.
func functions(env []string, b *budget) map[string]function.Function {
	fns := map[string]function.Function{
		// Strings.
		"upper":         stdlib.UpperFunc,
		"lower":         stdlib.LowerFunc,
		"title":         stdlib.TitleFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"join":          stdlib.JoinFunc,
		"split":         stdlib.SplitFunc,
		"replace":       stdlib.ReplaceFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"regex":         stdlib.RegexFunc,
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"chomp":         stdlib.ChompFunc,
		"substr":        stdlib.SubstrFunc,
		"strlen":        stdlib.StrlenFunc,
		"strrev":        stdlib.ReverseFunc,
		// Collections.
		"length":   stdlib.LengthFunc,
		"concat":   stdlib.ConcatFunc,
		"coalesce": stdlib.CoalesceFunc,
		"compact":  stdlib.CompactFunc,
		"contains": stdlib.ContainsFunc,
		"distinct": stdlib.DistinctFunc,
		"element":  stdlib.ElementFunc,
		"flatten":  stdlib.FlattenFunc,
		"index":    stdlib.IndexFunc,
		"keys":     stdlib.KeysFunc,
		"values":   stdlib.ValuesFunc,
		"lookup":   stdlib.LookupFunc,
		"merge":    stdlib.MergeFunc,
		"reverse":  stdlib.ReverseListFunc,
		"slice":    stdlib.SliceFunc,
		"sort":     stdlib.SortFunc,
		"zipmap":   stdlib.ZipmapFunc,
		// Numbers.
		"min":      stdlib.MinFunc,
		"max":      stdlib.MaxFunc,
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"parseint": stdlib.ParseIntFunc,
		// Conversions and encodings.
		"tostring":   stdlib.MakeToFunc(cty.String),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"jsonencode": stdlib.JSONEncodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		// The environment.
		"env": envFunc(env),
	}
	for name, predict := range predictors {
		fns[name] = limited(name, fns[name], predict, b)
	}
	return fns
}

// limited wraps f, which is called name, so that a call whose result
// predict says would pass the size limits is refused before f runs: the
// evaluation stops with a "Value too large" error at the call. The result
// of every call, limited or not, is measured like any other value when the
// call returns (see evaluate); this is for the functions whose result would
// exhaust memory before it could be measured.
func limited(name string, f function.Function, predict predictor, b *budget) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if p := predict(args); p.size.over() {
				b.refuse(fmt.Sprintf("%s would build a value holding %s", name, p.bound), p.size, p.fix)
				return cty.UnknownVal(retType), nil
			}
			return f.Call(args)
		},
	})
}

// envFunc builds env(NAME) and env(NAME, DEFAULT): the value of the
// environment variable NAME from env, or DEFAULT ("" when not given) when it
// is unset or empty.
func envFunc(env []string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or a default when it is unset or empty.",
		Params: []function.Parameter{
			{Name: "name", Type: cty.String},
		},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type: func(args []cty.Value) (cty.Type, error) {
			if len(args) > 2 {
				return cty.NilType, function.NewArgErrorf(2, "env takes a name and at most one default value, as in env(\"NAME\", \"default\")")
			}
			return cty.String, nil
		},
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder { return b.NotNull() },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if v, ok := lookupEnv(env, name); ok && v != "" {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.StringVal(""), nil
		},
	})
}

// lookupEnv finds name in env (os.Environ form); the last entry wins, as
// it does for a process environment built by appending.
func lookupEnv(env []string, name string) (string, bool) {
	val, found := "", false
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == name {
			val, found = v, true
		}
	}
	return val, found
}
