package main

import "testing"

func TestSourceNamesTheModule(t *testing.T) {
	mods := modules([]byte("path\tx\nmod\tgithub.com/dgehq/dge\t(devel)\ndep\tgo.opentelemetry.io/otel\tv1\ndep\tgo.opentelemetry.io/otel/sdk\tv1\ndep\tgopkg.in/yaml.v3\tv3\n"))
	for sym, want := range map[string]string{
		"github.com/dgehq/dge/runtime.(*session).handle":   "github.com/dgehq/dge",
		"type:*github.com/dgehq/dge/runtime.Node":          "github.com/dgehq/dge",
		"go.opentelemetry.io/otel/sdk/trace.(*span).End":   "go.opentelemetry.io/otel/sdk",
		"go.opentelemetry.io/otel/trace.SpanFromContext":   "go.opentelemetry.io/otel",
		"go:itab.*net/http.http2Transport,net/http.Closer": "standard library and Go runtime",
		"gopkg.in/yaml%2ev3.Unmarshal":                     "gopkg.in/yaml.v3",
		"runtime.mallocgc":                                 "standard library and Go runtime",
		"go:func.*":                                        "other (linker)",
		"github.com/dgehq/dgeother.F":                      "other (linker)",
	} {
		if got := source(mods, sym); got != want {
			t.Errorf("source(%q) = %q, want %q", sym, got, want)
		}
	}
}
