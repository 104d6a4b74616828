// Package broken does not compile; the generator's tests name it as a
// handlers package to check that dge reports the compile error.
package broken

// Integer is an integer message.
type Integer struct {
	Value int64 `json:"value"`
}

// Wrong assigns a string to an int64 field.
var Wrong = Integer{Value: "three"}
