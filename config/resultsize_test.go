package config

import (
	"fmt"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// TestPredictions checks each predictor against the result of the call it
// predicts, on ordinary arguments: about the same size, so that no
// ordinary call near the limits is refused for a size it would not have;
// an upper bound where the predictor says "up to".
func TestPredictions(t *testing.T) {
	s := cty.StringVal
	n := cty.NumberFloatVal
	strs := func(v ...string) cty.Value {
		if len(v) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		l := make([]cty.Value, len(v))
		for i, x := range v {
			l[i] = s(x)
		}
		return cty.ListVal(l)
	}
	tests := []struct {
		fn   string
		args []cty.Value
	}{
		{"format", []cty.Value{s("%-10s|%5.2f|%d|%v|%q"), s("ab"), n(3.14159), n(42), strs("x", "y"), s("q")}},
		{"format", []cty.Value{s("%[2]s %[1]s %[2]s"), s("a"), s("bb")}},
		{"format", []cty.Value{s("%.3s|%08.3f|%x|%%|%t"), s("abcdef"), n(2.5), n(255), cty.True}},
		{"format", []cty.Value{s("%1000s"), s("x")}},
		{"formatlist", []cty.Value{s("%s-%s"), strs("a", "b", "c"), s("z")}},
		{"formatlist", []cty.Value{s("%5d"), cty.ListVal([]cty.Value{n(1), n(22), n(333)})}},
		{"formatlist", []cty.Value{s("plain")}},
		{"join", []cty.Value{s("-"), strs("a", "bb"), strs("ccc")}},
		{"join", []cty.Value{s(","), strs()}},
		{"split", []cty.Value{s(","), s("a,b,,c")}},
		{"split", []cty.Value{s(""), s("héllo")}},
		{"split", []cty.Value{s(""), s("")}},
		{"split", []cty.Value{s(","), s("")}},
		{"replace", []cty.Value{s("banana"), s("a"), s("oo")}},
		{"replace", []cty.Value{s("abc"), s(""), s("-")}},
		{"regex_replace", []cty.Value{s("banana"), s("an"), s("X")}},
		{"regex_replace", []cty.Value{s("banana"), s("a(n)?"), s("[$1]")}},
		{"regex", []cty.Value{s(`(\w+)-(\d+)`), s("job-42")}},
		{"regex", []cty.Value{s(`(?P<k>\w+)=(?P<v>\w+)`), s("a=b")}},
		{"regex", []cty.Value{s(`\d+`), s("ab123")}},
	}
	impls := map[string]func(...cty.Value) (cty.Value, error){
		"format":        func(a ...cty.Value) (cty.Value, error) { return stdlib.FormatFunc.Call(a) },
		"formatlist":    func(a ...cty.Value) (cty.Value, error) { return stdlib.FormatListFunc.Call(a) },
		"join":          func(a ...cty.Value) (cty.Value, error) { return stdlib.JoinFunc.Call(a) },
		"split":         func(a ...cty.Value) (cty.Value, error) { return stdlib.SplitFunc.Call(a) },
		"replace":       func(a ...cty.Value) (cty.Value, error) { return stdlib.ReplaceFunc.Call(a) },
		"regex_replace": func(a ...cty.Value) (cty.Value, error) { return stdlib.RegexReplaceFunc.Call(a) },
		"regex":         func(a ...cty.Value) (cty.Value, error) { return stdlib.RegexFunc.Call(a) },
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", i, tt.fn), func(t *testing.T) {
			got, err := impls[tt.fn](tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			actual := sizeOf(got)
			p := predictors[tt.fn](tt.args)
			close := func(predicted, actual int) bool {
				if p.bound == "up to" {
					return predicted >= actual
				}
				return predicted <= 2*actual+8 && actual <= 2*predicted+8
			}
			if !close(p.size.bytes, actual.bytes) || !close(p.size.elems, actual.elems) {
				t.Errorf("predicted %s %+v, the result is %+v", p.bound, p.size, actual)
			}
		})
	}
}

// TestNumberTextSize checks the size counted for numbers against their
// length written out as a template writes them.
func TestNumberTextSize(t *testing.T) {
	for _, src := range []string{"0", "7", "-42", "1e6", "123456789012345678901234567890", "1e300", "0.5", "3.25", "-0.001"} {
		t.Run(src, func(t *testing.T) {
			v := cty.MustParseNumberVal(src)
			written := len(v.AsBigFloat().Text('f', -1))
			if got := numberTextSize(v.AsBigFloat()); got < written || got > written+24 {
				t.Errorf("numberTextSize = %d; written out it is %d bytes", got, written)
			}
		})
	}
}
