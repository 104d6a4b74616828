package config_test

import (
	"testing"

	"github.com/dgehq/dge/config"
)

func TestLoadArith(t *testing.T) {
	l := config.NewLoader()
	g, diags := l.Load("../testdata/graphs/arith", config.Options{})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %s", diags)
	}
	if g == nil || g.Name != "arith" || len(g.Nodes) != 7 {
		t.Fatalf("unexpected graph %+v", g)
	}
}
