package runtime

import (
	"strings"
	"testing"
)

func TestSplitFramesRoundTrip(t *testing.T) {
	fs := splitFrames{}.push(splitFrame{"docs", "ab12", 3, 10}).push(splitFrame{"pages", "cd34", 0, 0})
	s := fs.String()
	if s != "docs:ab12:3:10;pages:cd34:0:0" {
		t.Fatalf("String() = %q", s)
	}
	got, err := parseSplitFrames(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != s {
		t.Fatalf("round trip: %q, want %q", got.String(), s)
	}
	top, ok := got.top()
	if !ok || !top.empty() || top.Split != "pages" {
		t.Fatalf("top = %+v, %v", top, ok)
	}
	if p := got.pop(); p.String() != "docs:ab12:3:10" {
		t.Fatalf("pop = %q", p.String())
	}
	if _, ok := splitFrames(nil).top(); ok {
		t.Fatal("top of no frames reported ok")
	}
}

func TestSplitFramesRefused(t *testing.T) {
	for _, s := range []string{
		"", "a", "a:b:1", "a:b:1:2:3", ":b:0:1", "a::0:1", "a:b:2:2", "a:b:1:0",
		"a:b:-1:2", "a:b:01:2", "a:b:x:2", "a:b:0:99999999999", "a:b:0:1;",
		strings.Repeat("a:b:0:1;", 16) + "a:b:0:1",
		"a:" + strings.Repeat("b", 3000) + ":0:1",
	} {
		if _, err := parseSplitFrames(s); err == nil {
			t.Errorf("parseSplitFrames(%q) accepted", s)
		}
	}
	if _, err := splitFramesOf(map[string]any{HeaderSplit: int64(3)}); err == nil {
		t.Error("a non-string header accepted")
	}
	if fs, err := splitFramesOf(map[string]any{}); fs != nil || err != nil {
		t.Errorf("absent header: %v, %v", fs, err)
	}
}
