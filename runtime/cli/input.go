package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// notJSON returns nil when s is one JSON value, else an error that
// completes "argument 1 is not a valid <node> message: ": that a JSON value was
// expected and, for a bare word (Income, hello world), that a string must
// be quoted, with the quoted form to type: in shell quotes for a
// command-line argument (arg), as a line of stdin otherwise.
func notJSON(s []byte, arg bool) error {
	if json.Valid(s) {
		return nil
	}
	text := strings.TrimSpace(string(s))
	if isBareWord(text) {
		q, _ := json.Marshal(text)
		form := string(q)
		if arg && !strings.Contains(form, "'") {
			form = "'" + form + "'"
		}
		return fmt.Errorf("a JSON value was expected, and a string must be quoted: give %s", form)
	}
	var se *json.SyntaxError
	err := json.Unmarshal(s, new(any))
	if errors.As(err, &se) {
		return fmt.Errorf("a JSON value was expected (%v at byte %d)", se, se.Offset)
	}
	return fmt.Errorf("a JSON value was expected (%v)", err)
}

// isBareWord reports whether s reads as unquoted text: it starts with a
// letter and holds none of JSON's punctuation ({}[]":,).
func isBareWord(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 0x80) {
		return false
	}
	return !strings.ContainsAny(s, `{}[]":,`)
}
