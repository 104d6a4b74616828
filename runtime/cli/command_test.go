package cli

import "testing"

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int{"1024": 1024, "16MiB": 16 << 20, "2 KiB": 2048, "1GiB": 1 << 30} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "16MB", "99999999999GiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) succeeded, want an error", in)
		}
	}
}
