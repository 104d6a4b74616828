package gen

import (
	"go/types"
	"reflect"
	"strings"
)

// jsonProblem returns "" when values of t can be encoded and decoded by
// encoding/json, or a phrase saying why not ("has field Done of type
// chan bool, which encoding/json cannot encode"), to follow the type's name
// in a diagnostic.
func jsonProblem(t types.Type, q types.Qualifier) string {
	w := &jsonWalker{q: q, seen: map[types.Type]bool{}}
	return w.walk(t, "")
}

type jsonWalker struct {
	q    types.Qualifier
	seen map[types.Type]bool
}

// walk checks t, reached through the field path (empty at the top).
func (w *jsonWalker) walk(t types.Type, path string) string {
	t = types.Unalias(t)
	if w.seen[t] {
		return ""
	}
	if _, named := t.(*types.Named); named {
		w.seen[t] = true
	}
	if hasMethods(t, "MarshalJSON", "UnmarshalJSON") || hasMethods(t, "MarshalText", "UnmarshalText") {
		return ""
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch u.Kind() {
		case types.Complex64, types.Complex128, types.UnsafePointer:
			return w.bad(t, path, "encoding/json cannot encode complex numbers or unsafe pointers")
		}
		return ""
	case *types.Chan:
		return w.bad(t, path, "encoding/json cannot encode channels")
	case *types.Signature:
		return w.bad(t, path, "encoding/json cannot encode functions")
	case *types.TypeParam:
		return w.bad(t, path, "it depends on a type parameter")
	case *types.Interface:
		if u.Empty() {
			return ""
		}
		return w.bad(t, path, "encoding/json cannot decode into a non-empty interface")
	case *types.Pointer:
		return w.walk(u.Elem(), path)
	case *types.Slice:
		return w.walk(u.Elem(), path+"[]")
	case *types.Array:
		return w.walk(u.Elem(), path+"[]")
	case *types.Map:
		k := types.Unalias(u.Key())
		if b, ok := k.Underlying().(*types.Basic); !ok || b.Info()&(types.IsString|types.IsInteger) == 0 {
			if !hasMethods(k, "MarshalText", "UnmarshalText") {
				return w.bad(t, path, "encoding/json map keys must be strings, integers or implement encoding.TextMarshaler")
			}
		}
		return w.walk(u.Elem(), path+"[]")
	case *types.Struct:
		for i := range u.NumFields() {
			f := u.Field(i)
			name, _, _ := strings.Cut(reflect.StructTag(u.Tag(i)).Get("json"), ",")
			if name == "-" && !strings.HasPrefix(reflect.StructTag(u.Tag(i)).Get("json"), "-,") {
				continue
			}
			if !f.Exported() && !f.Embedded() {
				continue
			}
			if p := w.walk(f.Type(), joinPath(path, f.Name())); p != "" {
				return p
			}
		}
		return ""
	}
	return ""
}

func (w *jsonWalker) bad(t types.Type, path, why string) string {
	if path == "" {
		return "is " + types.TypeString(t, w.q) + ", and " + why
	}
	return "has field " + path + " of type " + types.TypeString(t, w.q) + ", and " + why
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// hasMethods reports whether *t's method set has every named method.
func hasMethods(t types.Type, names ...string) bool {
	ms := types.NewMethodSet(types.NewPointer(t))
	for _, n := range names {
		if ms.Lookup(nil, n) == nil {
			return false
		}
	}
	return true
}
