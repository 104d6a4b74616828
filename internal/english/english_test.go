package english

import "testing"

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		noun string
		want string
	}{
		{0, "message", "0 messages"},
		{1, "message", "1 message"},
		{2, "edge queue", "2 edge queues"},
		{1 << 40, "message", "1099511627776 messages"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			if got := Plural(tt.n, tt.noun); got != tt.want {
				t.Errorf("Plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
			}
			if tt.n == int64(int(tt.n)) {
				if got := Plural(int(tt.n), tt.noun); got != tt.want {
					t.Errorf("Plural(int %d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
				}
			}
		})
	}
}
