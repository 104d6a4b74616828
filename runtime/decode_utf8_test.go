package runtime

import (
	"strings"
	"testing"
)

// TestDecodeRefusesBOMAndInvalidUTF8: a body JSON may not be is refused by
// the strict decoder, the reason naming what is wrong (encoding/json would
// turn invalid bytes into U+FFFD and refuses a BOM as "invalid character").
func TestDecodeRefusesBOMAndInvalidUTF8(t *testing.T) {
	type text struct {
		S string `json:"s"`
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"BOM", "\xEF\xBB\xBF{\"s\":\"x\"}", "body starts with a UTF-8 byte order mark (EF BB BF); send JSON without it"},
		{"invalid UTF-8 in a string", "{\"s\":\"a\xffb\"}", "body is not valid UTF-8: byte 0xff at offset 7"},
		{"a lone continuation byte", "{\"s\":\"\x80\"}", "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode[text]([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(%q) = %v, want an error containing %q", tc.body, err, tc.want)
			}
		})
	}
	if v, err := Decode[text]([]byte(`{"s":"héllo ✓"}`)); err != nil || v.S != "héllo ✓" {
		t.Fatalf("Decode(valid UTF-8) = %v, %v", v, err)
	}
}
