package behaviour_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dgehq/dge/examples/docs/behaviour"
	dge "github.com/dgehq/dge/runtime"
)

// summarise runs the handlers in the graph's order, as the runtime would
// with every item gathered in index order.
func summarise(t *testing.T, d behaviour.Document) behaviour.Summary {
	t.Helper()
	ctx := t.Context()
	chapters, err := behaviour.Chapters(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var cs []behaviour.ChapterSummary
	for _, c := range chapters {
		pages, err := behaviour.Pages(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var ps []behaviour.PageSummary
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
	return s
}

func TestSample(t *testing.T) {
	b, err := os.ReadFile("../sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var d behaviour.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	s := summarise(t, d)
	var titles []string
	pages := 0
	for _, c := range s.Chapters {
		titles = append(titles, c.Title)
		pages += c.Pages
	}
	if want := []string{"The tower", "The log", "The relief"}; !slices.Equal(titles, want) {
		t.Errorf("chapters %q, want %q", titles, want)
	}
	words := 0
	for line := range strings.Lines(d.Text) {
		if !strings.HasPrefix(line, "# ") {
			words += len(strings.Fields(line))
		}
	}
	if s.Words != words || s.Pages != pages || pages != 5 {
		t.Errorf("summary has %d words in %d pages, want %d words (the text less the chapter headings) in 5 pages", s.Words, s.Pages, words)
	}
	if s.Chapters[0].Lead != "The lighthouse stands on a rock a mile from the harbour, and its keeper climbs one hundred and twelve steps to reach the lamp." {
		t.Errorf("first chapter's lead %q", s.Chapters[0].Lead)
	}
	if len(s.Keywords) != behaviour.KeywordsPerPage || !slices.Contains(s.Keywords, "keeper") || !slices.Contains(s.Keywords, "log") {
		t.Errorf("keywords %q, want %d among them keeper and log", s.Keywords, behaviour.KeywordsPerPage)
	}
}

func TestPages(t *testing.T) {
	ctx := t.Context()
	text := strings.Repeat("word ", 2*behaviour.WordsPerPage+1)
	pages, err := behaviour.Pages(ctx, behaviour.Chapter{Title: "c", Text: text})
	if err != nil || len(pages) != 3 {
		t.Fatalf("Pages(%d words) = %d pages, %v; want 3", 2*behaviour.WordsPerPage+1, len(pages), err)
	}
	for i, p := range pages {
		if p.Number != i+1 || p.Chapter != "c" {
			t.Errorf("page %d = number %d of %q", i, p.Number, p.Chapter)
		}
	}
	if n := len(strings.Fields(pages[2].Text)); n != 1 {
		t.Errorf("last page has %d words, want 1", n)
	}
	huge := strings.Repeat("w ", behaviour.WordsPerPage*behaviour.MaxPages+1)
	if _, err := behaviour.Pages(ctx, behaviour.Chapter{Title: "huge", Text: huge}); err == nil || !dge.IsPermanent(err) {
		t.Errorf("Pages of %d pages: %v, want a permanent error", behaviour.MaxPages+1, err)
	}
}

// TestEmpty: a document without text is a split of no chapters, and a
// chapter without text a split of no pages; both still give a summary.
func TestEmpty(t *testing.T) {
	s := summarise(t, behaviour.Document{Title: "nothing"})
	if len(s.Chapters) != 0 || s.Pages != 0 || s.Words != 0 || s.Chapters == nil || s.Keywords == nil {
		t.Errorf("empty document's summary %+v, want no chapters (an empty list, not null)", s)
	}
	s = summarise(t, behaviour.Document{Text: "# First\n# Second\nTwo words."})
	if len(s.Chapters) != 2 || s.Chapters[0].Title != "" || s.Chapters[0].Pages != 0 || s.Chapters[1].Title != "Second" || s.Words != 2 {
		t.Errorf("summary %+v, want an empty first chapter and a second of 2 words", s)
	}
	b, _ := json.Marshal(s.Chapters[0])
	if !strings.Contains(string(b), `"keywords":[]`) {
		t.Errorf("empty chapter's summary %s, want keywords as an empty list", b)
	}
}

func TestChaptersWithoutHeading(t *testing.T) {
	chapters, err := behaviour.Chapters(t.Context(), behaviour.Document{Text: "\nPreface text.\n# One\nBody.\n"})
	if err != nil || len(chapters) != 2 || chapters[0].Title != "" || chapters[0].Text != "Preface text." || chapters[1].Index != 1 || chapters[1].Text != "Body." {
		t.Errorf("Chapters = %+v, %v; want an untitled preface, then chapter One", chapters, err)
	}
}

func TestJoinPagesWantsOrder(t *testing.T) {
	_, err := behaviour.JoinPages(t.Context(), []behaviour.PageSummary{{Chapter: "c", Number: 2}, {Chapter: "c", Number: 1}})
	if err == nil || !dge.IsPermanent(err) {
		t.Errorf("JoinPages out of order: %v, want a permanent error", err)
	}
}

func TestLead(t *testing.T) {
	s, err := behaviour.Summarise(t.Context(), behaviour.Page{Text: "Version 1.2 is out! Then more."})
	if err != nil || s.Lead != "Version 1.2 is out!" || s.Words != 6 {
		t.Errorf("Summarise = %+v, %v; want lead %q and 6 words", s, err, "Version 1.2 is out!")
	}
	long := strings.Repeat("é", 150)
	if s, _ := behaviour.Summarise(t.Context(), behaviour.Page{Text: long}); len(s.Lead) > 203 || !strings.HasSuffix(s.Lead, "…") || !strings.HasPrefix(s.Lead, "éé") {
		t.Errorf("lead of a 300-byte sentence %q, want at most 200 bytes and an ellipsis", s.Lead)
	}
}
