package config

import (
	"fmt"
	"math"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// The limits on the size of a value: every value an expression builds, a
// variable's value and every function's result. A graph's values name
// queues and settings; these limits are far above any real one and far
// below what would exhaust memory, so that a hostile or runaway expression
// (a format width of two billion, a string that doubles local after local)
// is reported as an error instead of crashing dge.
const (
	// maxValueBytes is the most text a value may hold: the bytes of its
	// strings and object keys and the digits of its numbers, counted
	// through nested collections.
	maxValueBytes = 1 << 20
	// maxValueElements is the most elements a value may hold, counted
	// through nested collections: a list of 10 lists of 10 holds 110.
	maxValueElements = 100_000
)

// valueSize is the size of a value as the limits count it. Its arithmetic
// saturates, so a prediction for a hostile argument cannot overflow.
type valueSize struct {
	bytes, elems int
}

// over tells whether z passes either limit.
func (z valueSize) over() bool {
	return z.bytes > maxValueBytes || z.elems > maxValueElements
}

func (z valueSize) add(o valueSize) valueSize {
	return valueSize{satAdd(z.bytes, o.bytes), satAdd(z.elems, o.elems)}
}

// sizeCap is where size arithmetic saturates: far above either limit, far
// below overflow.
const sizeCap = 1 << 60

func satAdd(a, b int) int {
	if a >= sizeCap-b {
		return sizeCap
	}
	return a + b
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > sizeCap/b {
		return sizeCap
	}
	return a * b
}

// sizeOf measures v. It stops counting once v passes a limit, so measuring
// costs at most about maxValueElements steps however large v is; the
// result is then only known to be over.
func sizeOf(v cty.Value) valueSize {
	var z valueSize
	z.addValue(v)
	return z
}

func (z *valueSize) addValue(v cty.Value) {
	if z.over() {
		return
	}
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		z.bytes = satAdd(z.bytes, len(v.AsString()))
	case ty == cty.Number:
		z.bytes = satAdd(z.bytes, numberTextSize(v.AsBigFloat()))
	case ty.IsObjectType():
		// Through the type, not ElementIterator, which sorts the names.
		for name := range ty.AttributeTypes() {
			z.elems++
			z.bytes = satAdd(z.bytes, len(name))
			z.addValue(v.GetAttr(name))
			if z.over() {
				return
			}
		}
	case ty.IsMapType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			z.elems++
			z.bytes = satAdd(z.bytes, len(k.AsString()))
			z.addValue(e)
			if z.over() {
				return
			}
		}
	case v.CanIterateElements(): // lists, sets and tuples
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			z.elems++
			z.addValue(e)
			if z.over() {
				return
			}
		}
	}
}

// numberTextSize is about the length of f written out in decimal, as a
// template, tostring or jsonencode writes it: exact in digits for whole
// numbers; for others, a typical length unless f's binary exponent or
// precision is large enough that writing it out takes many digits
// (1e-600000000 written without an exponent is 600 million characters).
func numberTextSize(f *big.Float) int {
	if f.IsInf() {
		return 4
	}
	exp := f.MantExp(nil)
	if exp < 0 {
		exp = -exp
	}
	if f.IsInt() {
		return int(float64(exp)*math.Log10(2)) + 2 // the digits and a sign
	}
	if bits := exp + int(f.Prec()); bits > 2048 {
		return int(float64(bits)*math.Log10(2)) + 3
	}
	return 24
}

// tooLarge returns the diagnostic for a value over the limits: holds
// begins the detail ("This value would hold", "format would build a
// string holding about"), z is the value's size and fix ends the detail.
func tooLarge(subject *hcl.Range, holds string, z valueSize, fix string) *hcl.Diagnostic {
	var size string
	if z.bytes > maxValueBytes {
		size = fmt.Sprintf("%s bytes of text; a value may hold at most 1 MiB (%d bytes) of text, counting its strings, keys and number digits through nested collections", sizeText(z.bytes), maxValueBytes)
	} else {
		size = fmt.Sprintf("%s elements; a value may hold at most %d elements, counted through nested collections", sizeText(z.elems), maxValueElements)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Value too large",
		Detail:   fmt.Sprintf("%s %s. %s", holds, size, fix),
		Subject:  subject,
	}
}

// sizeText writes a measured or predicted size; a saturated one is only
// known to be enormous.
func sizeText(n int) string {
	if n >= sizeCap {
		return "more than a billion billion"
	}
	return fmt.Sprint(n)
}
