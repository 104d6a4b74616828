package dgetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	dge "github.com/dgehq/dge/runtime"
)

// decodeStrict decodes body as T as the runtime's nodes do (dge.Decode: no
// unknown fields, no trailing data, no null for a non-pointer), and also
// requires every field encoding/json always writes for T (see
// requiredFields) to be present, so that a result of another type with
// fewer fields does not decode as T with zero values.
func decodeStrict[T any](body []byte) (T, error) {
	v, err := dge.Decode[T](body)
	if err != nil {
		return v, err
	}
	t := reflect.TypeFor[T]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return v, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return v, nil // null for a pointer T: nothing to check
	}
	for _, name := range requiredFields(t) {
		if !hasKey(obj, name) {
			return v, fmt.Errorf("field %q is missing, though %s always writes it (no omitempty)", name, t)
		}
	}
	return v, nil
}

// requiredFields returns the JSON names of the fields of struct type t
// that encoding/json always writes: exported, not tagged "-", without
// omitempty or omitzero; the fields of untagged embedded structs count as
// t's own.
func requiredFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if f.Type.Kind() == reflect.Struct {
				names = append(names, requiredFields(f.Type)...)
			}
			continue
		}
		if !f.IsExported() || hasOption(opts, "omitempty") || hasOption(opts, "omitzero") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// hasKey reports whether obj has key name, matched as encoding/json
// matches field names: exactly, or else ignoring case.
func hasKey(obj map[string]json.RawMessage, name string) bool {
	if _, ok := obj[name]; ok {
		return true
	}
	for k := range obj {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
