package redact

import (
	"strings"
	"testing"
)

// nastyPasswords hold each reserved character a user may paste unescaped.
var nastyPasswords = []string{"p/ss", "p#ss", "p@ss", "p?ss", "hunter2/x#y@z?w"}

func TestURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:xxxxx@127.0.0.1:5672/%2F"},
		{"amqp://u:p/ss@h:5672/v", "amqp://u:xxxxx@h:5672/v"},
		{"amqp://u:p#ss@h:5672/v", "amqp://u:xxxxx@h:5672/v"},
		{"amqp://u:p@ss@h:5672/v", "amqp://u:xxxxx@h:5672/v"},
		{"amqp://u:p?ss@h:5672/v", "amqp://u:xxxxx@h:5672/v"},
		{"amqp://u:a:b:c@h", "amqp://u:xxxxx@h"},
		{"amqp://:secret@h", "amqp://:xxxxx@h"},
		{"amqp://tokenonly@h/v", "amqp://xxxxx@h/v"},
		{"amqp://u/x:secret@h", "amqp://xxxxx@h"},
		{"amqp://h:5672/v", "amqp://h:5672/v"},
		{"u:secret@h:5672", "u:xxxxx@h:5672"},
		{"amqp://u:p%2Fss@h/v", "amqp://u:xxxxx@h/v"},
		{"", ""},
		{"amqp://a:pw1/x@h1:1/v,amqp://b:pw2#x@h2:2/v, amqp://c:pw3?x@h3:3/v",
			"amqp://a:xxxxx@h1:1/v,amqp://b:xxxxx@h2:2/v, amqp://c:xxxxx@h3:3/v"},
		{"http://u:p@ss@h:15672,http://h2:15672", "http://u:xxxxx@h:15672,http://h2:15672"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	for _, pw := range nastyPasswords {
		t.Run(pw, func(t *testing.T) {
			list := "amqp://user:" + pw + "@h:5672/v"
			for _, text := range []string{
				`parse "` + list + `": invalid port`,
				`parse "amqp://user:` + strings.SplitN(pw, "#", 2)[0] + `": invalid port`, // url.Parse stops at '#'
				`{"error":"` + jsonEscape("broker said "+pw) + `"}`,
				"escaped " + strings.NewReplacer("/", "%2F", "#", "%23", "@", "%40", "?", "%3F").Replace(pw),
			} {
				got := Scrub(text, list)
				if leaked(got, pw) {
					t.Errorf("Scrub(%q) = %q: holds the password", text, got)
				}
			}
		})
	}
	if got := Scrub("user guest at amqp://h", "amqp://guest:guest@h"); got != "user guest at amqp://h" {
		t.Errorf("a password equal to its user name was replaced: %q", got)
	}
	if got := Scrub("nothing to hide", ""); got != "nothing to hide" {
		t.Errorf("Scrub without URLs = %q", got)
	}
}

// leaked reports whether text holds pw, or a piece of it 4 characters or
// longer between reserved characters.
func leaked(text, pw string) bool {
	if strings.Contains(text, pw) {
		return true
	}
	for _, piece := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("/#?@:", r) }) {
		if len(piece) >= 4 && strings.Contains(text, piece) {
			return true
		}
	}
	return false
}
