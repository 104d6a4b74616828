package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/dgehq/dge/examples/docs/behaviour"
	"github.com/dgehq/dge/runtime/dgetest"
)

// direct runs the handlers in the graph's order in this goroutine: what the
// graph must return for d.
func direct(t *testing.T, d behaviour.Document) string {
	t.Helper()
	ctx := context.Background()
	chapters, err := behaviour.Chapters(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	cs := []behaviour.ChapterSummary{}
	for _, c := range chapters {
		pages, err := behaviour.Pages(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		ps := []behaviour.PageSummary{}
		for _, p := range pages {
			s, err := behaviour.Summarise(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, s)
		}
		c, err := behaviour.JoinPages(ctx, ps)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	s, err := behaviour.JoinChapters(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSummaries: the sample document (3 chapters, 5 pages), a document
// without text (a split of no chapters) and one with an empty chapter (a
// split of no pages inside the outer split) each give the summary the
// handlers give when called in order.
func TestSummaries(t *testing.T) {
	b, err := os.ReadFile("../../sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample behaviour.Document
	if err := json.Unmarshal(b, &sample); err != nil {
		t.Fatal(err)
	}
	docs := []behaviour.Document{sample, {Title: "empty"}, {Title: "gap", Text: "# One\n# Two\nSome words here.\n"}}
	h := dgetest.Start(t, graph)
	var want []string
	for _, d := range docs {
		h.Publish(t, "document", d)
		want = append(want, direct(t, d))
	}
	var got []string
	for _, s := range dgetest.Results[behaviour.Summary](t, h, "result", len(docs)) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("summaries\n%s\nwant\n%s", got, want)
	}
	if p := h.Parked(t, ""); len(p) != 0 {
		t.Errorf("parked %+v, want none", p)
	}
}
