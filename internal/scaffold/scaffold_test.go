package scaffold

import (
	"strings"
	"testing"
)

func TestGraphName(t *testing.T) {
	for module, want := range map[string]string{
		"example.com/hello":        "hello",
		"example.com/My-Shop.v2":   "my_shop_v2",
		"github.com/acme/__x__":    "x",
		"001":                      "app",
		"example.com/Ünïcode":      "n_code",
		"example.com/orders/greet": "greet",
	} {
		if got := GraphName(module); got != want {
			t.Errorf("GraphName(%q) = %q, want %q", module, got, want)
		}
	}
}

func TestFilesUseTheHandlersPath(t *testing.T) {
	files, err := Project{Module: "example.com/m", Name: "m", Handlers: "example.com/m/sub/handlers"}.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{GraphFile, "cmd/m/graph_test.go"} {
		if !strings.Contains(string(files[name]), `"example.com/m/sub/handlers"`) {
			t.Errorf("%s does not name the handlers package:\n%s", name, files[name])
		}
	}
}
