package config

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// prediction is the size a call's result would have, worked out from its
// arguments without building it.
type prediction struct {
	size  valueSize
	bound string // "about", or "up to" for an upper bound
	fix   string // how to make the call fit, for the diagnostic
}

// predictor predicts the size of a function's result from its arguments,
// as converted to the function's parameter types. It must cost no more
// than reading the arguments.
type predictor func(args []cty.Value) prediction

// predictors holds a predictor for each function whose result can be far
// larger than its arguments: a width, a count or a repetition multiplies
// them. Every other function's result is at most a small multiple of its
// arguments, which are already within the limits.
var predictors = map[string]predictor{
	"format":        predictFormat,
	"formatlist":    predictFormatList,
	"join":          predictJoin,
	"split":         predictSplit,
	"replace":       predictReplace,
	"regex_replace": predictRegexReplace,
	"regex":         predictRegex,
}

const fixFormat = "Use a smaller width or precision, fewer verbs, or smaller arguments."

// knownString returns v's string, and whether v is a known, non-null one.
func knownString(v cty.Value) (string, bool) {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// formatVerb is one verb of a format string, as cty's format reads it:
// %, flags, width, precision, [n] argument index, a letter.
type formatVerb struct {
	arg   int // 1-based index of the argument it formats
	mode  byte
	width int // 0 when absent
	prec  int // -1 when absent
}

// scanFormat calls verb for each verb of spec and returns the number of
// literal bytes. Numbers saturate. It stops at the first malformed verb,
// which format itself reports.
func scanFormat(spec string, verb func(formatVerb)) (literal int) {
	num := func(i int) (int, int) {
		n := 0
		for ; i < len(spec) && spec[i] >= '0' && spec[i] <= '9'; i++ {
			n = satAdd(satMul(n, 10), int(spec[i]-'0'))
		}
		return n, i
	}
	next := 1
	for i := 0; i < len(spec); {
		if spec[i] != '%' {
			literal++
			i++
			continue
		}
		if i+1 < len(spec) && spec[i+1] == '%' {
			literal++
			i += 2
			continue
		}
		i++
		for i < len(spec) && strings.IndexByte("0#-+ ", spec[i]) >= 0 {
			i++
		}
		v := formatVerb{arg: next, prec: -1}
		v.width, i = num(i)
		if i < len(spec) && spec[i] == '.' {
			v.prec, i = num(i + 1)
		}
		if i < len(spec) && spec[i] == '[' {
			v.arg, i = num(i + 1)
			if i >= len(spec) || spec[i] != ']' {
				return literal
			}
			i++
		}
		if i >= len(spec) || !(spec[i] >= 'a' && spec[i] <= 'z' || spec[i] >= 'A' && spec[i] <= 'Z') {
			return literal
		}
		v.mode = spec[i]
		i++
		verb(v)
		next = satAdd(v.arg, 1)
	}
	return literal
}

// verbSize is about the bytes a verb writes n times, once per element of
// formatlist's lists, given the total size of what it formats over those n
// times: at least its width each time, and the digits its precision asks
// of a number.
func verbSize(v formatVerb, n int, formatted valueSize) int {
	out := satAdd(formatted.bytes, formatted.elems)
	switch v.mode {
	case 's', 'q':
		if v.prec >= 0 {
			out = min(out, satMul(n, v.prec)) // precision truncates strings
		}
	case 'e', 'E', 'f', 'g', 'G':
		if v.prec >= 0 {
			out = satAdd(out, satMul(n, v.prec))
		}
	}
	return max(out, satMul(n, v.width))
}

// predictFormat predicts format(spec, args...).
func predictFormat(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: fixFormat}
	spec, ok := knownString(args[0])
	if !ok {
		return p
	}
	sizes := make([]valueSize, len(args))
	for i := 1; i < len(args); i++ {
		sizes[i] = sizeOf(args[i])
	}
	total := 0
	literal := scanFormat(spec, func(v formatVerb) {
		var formatted valueSize
		if v.arg < len(args) {
			formatted = sizes[v.arg]
		}
		total = satAdd(total, verbSize(v, 1, formatted))
	})
	p.size.bytes = satAdd(total, literal)
	return p
}

// predictFormatList predicts formatlist(spec, args...): format once for
// each element of the list arguments, the others repeated each time.
func predictFormatList(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: fixFormat}
	spec, ok := knownString(args[0])
	if !ok {
		return p
	}
	n := 1
	isList := make([]bool, len(args))
	sizes := make([]valueSize, len(args))
	for i := 1; i < len(args); i++ {
		a, _ := args[i].Unmark()
		ty := a.Type()
		if (ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) && a.IsKnown() && !a.IsNull() {
			isList[i] = true
			n = a.LengthInt()
		}
		sizes[i] = sizeOf(a)
	}
	total := 0
	literal := scanFormat(spec, func(v formatVerb) {
		var formatted valueSize
		if v.arg < len(args) {
			formatted = sizes[v.arg]
			if !isList[v.arg] {
				formatted = valueSize{satMul(n, formatted.bytes), satMul(n, formatted.elems)}
			}
		}
		total = satAdd(total, verbSize(v, n, formatted))
	})
	p.size = valueSize{satAdd(total, satMul(n, literal)), n}
	return p
}

// predictJoin predicts join(sep, lists...): the elements, with a separator
// between each two.
func predictJoin(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: "Join fewer or shorter strings, or use a shorter separator."}
	sep, _ := knownString(args[0])
	count, bytes := 0, 0
	for _, list := range args[1:] {
		list, _ = list.Unmark()
		if !list.IsKnown() || list.IsNull() {
			continue
		}
		for it := list.ElementIterator(); it.Next(); {
			_, e := it.Element()
			s, _ := knownString(e)
			count++
			bytes = satAdd(bytes, len(s))
		}
	}
	if count > 1 {
		bytes = satAdd(bytes, satMul(count-1, len(sep)))
	}
	p.size.bytes = bytes
	return p
}

// predictSplit predicts split(sep, str): one element per separator, plus
// one; with an empty separator, one per character.
func predictSplit(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: "Split a shorter string, or at a separator that occurs less often."}
	sep, ok1 := knownString(args[0])
	str, ok2 := knownString(args[1])
	switch {
	case !ok1 || !ok2:
	case sep == "":
		p.size = valueSize{len(str), utf8.RuneCountInString(str)}
	default:
		p.size = valueSize{len(str), strings.Count(str, sep) + 1}
	}
	return p
}

// predictReplace predicts replace(str, substr, replacement): each of the
// occurrences of substr grows or shrinks by the difference in length.
func predictReplace(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: "Use a shorter replacement, or replace in a shorter string."}
	str, ok1 := knownString(args[0])
	sub, ok2 := knownString(args[1])
	repl, ok3 := knownString(args[2])
	if ok1 && ok2 && ok3 {
		n := strings.Count(str, sub)
		p.size.bytes = satAdd(len(str)-satMul(n, len(sub)), satMul(n, len(repl)))
	}
	return p
}

// predictRegexReplace predicts regex_replace(str, pattern, replacement) by
// finding the matches without building the result. A replacement without
// $ references is the same length every time; one with them is counted as
// if each reference repeated the whole match, an upper bound.
func predictRegexReplace(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: "Use a shorter replacement, fewer $ references in it, or a pattern that matches less."}
	str, ok1 := knownString(args[0])
	pattern, ok2 := knownString(args[1])
	repl, ok3 := knownString(args[2])
	if !ok1 || !ok2 || !ok3 {
		return p
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return p // regex_replace reports it
	}
	refs := strings.Count(repl, "$")
	if refs > 0 {
		p.bound = "up to"
	}
	total := len(str)
	re.ReplaceAllStringFunc(str, func(m string) string {
		if total < sizeCap {
			total = satAdd(total-len(m), satAdd(len(repl), satMul(refs, len(m))))
		}
		return ""
	})
	p.size.bytes = total
	return p
}

// predictRegex predicts regex(pattern, str): the first match's captures,
// or the whole match when there are none.
func predictRegex(args []cty.Value) prediction {
	p := prediction{bound: "about", fix: "Use a pattern with fewer capture groups, or match in a shorter string."}
	pattern, ok1 := knownString(args[0])
	str, ok2 := knownString(args[1])
	if !ok1 || !ok2 {
		return p
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return p // regex reports it
	}
	idx := re.FindStringSubmatchIndex(str)
	if idx == nil {
		return p
	}
	if len(idx) == 2 {
		p.size.bytes = idx[1] - idx[0]
		return p
	}
	names := re.SubexpNames()
	for i := 2; i+1 < len(idx); i += 2 {
		p.size.elems++
		p.size.bytes = satAdd(p.size.bytes, len(names[i/2]))
		if idx[i] >= 0 {
			p.size.bytes = satAdd(p.size.bytes, idx[i+1]-idx[i])
		}
	}
	return p
}
