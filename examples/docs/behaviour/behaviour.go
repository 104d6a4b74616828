package behaviour

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode"

	dge "github.com/dgehq/dge/runtime"
)

// WordsPerPage is the most words one page holds.
const WordsPerPage = 120

// KeywordsPerPage is how many of a page's most frequent words its summary
// keeps; a chapter and the document keep as many of theirs.
const KeywordsPerPage = 5

// MaxPages is the most pages one chapter may split into: a gather in the
// list form holds every item, so the list must stay well within one
// message of the body limit.
const MaxPages = 500

// Document is the graph's input, as JSON {"title": "...", "text": "..."}.
// In Text a line starting with "# " opens a chapter and titles it; text
// before the first such line is a chapter without a title.
type Document struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Chapter is one item of the outer split: its place in the document, its
// title and its text.
type Chapter struct {
	Index int    `json:"index"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Page is one item of the inner split: the chapter it belongs to, its
// place in the chapter and its text.
type Page struct {
	Chapter string `json:"chapter"`
	Number  int    `json:"number"` // from 1
	Text    string `json:"text"`
}

// PageSummary is what Summarise makes of a page.
type PageSummary struct {
	Chapter  string         `json:"chapter"`
	Number   int            `json:"number"`
	Words    int            `json:"words"`
	Lead     string         `json:"lead"`     // the page's first sentence
	Keywords []string       `json:"keywords"` // its most frequent words, most frequent first
	Counts   map[string]int `json:"counts"`   // how often each keyword occurs on the page
}

// ChapterSummary is a chapter's summary: its pages' summaries put back
// together in order.
type ChapterSummary struct {
	Title    string         `json:"title"`
	Pages    int            `json:"pages"`
	Words    int            `json:"words"`
	Lead     string         `json:"lead"` // the first sentence of its first page
	Keywords []string       `json:"keywords"`
	Counts   map[string]int `json:"counts"`
}

// Summary is the graph's result: the document's chapters, in order, with
// the totals.
type Summary struct {
	Chapters []ChapterSummary `json:"chapters"`
	Pages    int              `json:"pages"`
	Words    int              `json:"words"`
	Keywords []string         `json:"keywords"`
}

// Chapters splits a document into its chapters, in order. A document
// without text is a split of no chapters: its summary is empty.
func Chapters(_ context.Context, d Document) ([]Chapter, error) {
	out := []Chapter{}
	var cur *Chapter
	var text strings.Builder
	flush := func() {
		if cur != nil {
			cur.Text = strings.TrimSpace(text.String())
			out = append(out, *cur)
		}
		text.Reset()
	}
	for line := range strings.Lines(d.Text) {
		if title, ok := strings.CutPrefix(line, "# "); ok {
			flush()
			cur = &Chapter{Index: len(out), Title: strings.TrimSpace(title)}
			continue
		}
		if cur == nil {
			if strings.TrimSpace(line) == "" {
				continue
			}
			cur = &Chapter{Index: 0}
		}
		text.WriteString(line)
	}
	flush()
	return out, nil
}

// Pages splits a chapter into pages of at most WordsPerPage words, in
// order. A chapter without text has no pages. More than MaxPages pages is
// refused (permanently): split the document into more chapters.
func Pages(_ context.Context, c Chapter) ([]Page, error) {
	words := strings.Fields(c.Text)
	n := (len(words) + WordsPerPage - 1) / WordsPerPage
	if n > MaxPages {
		return nil, dge.Permanent(fmt.Errorf("chapter %q has %d pages of %d words, more than the %d one chapter may have; split it into more chapters (lines starting with \"# \")", c.Title, n, WordsPerPage, MaxPages))
	}
	out := make([]Page, 0, n)
	for i := 0; i < len(words); i += WordsPerPage {
		out = append(out, Page{Chapter: c.Title, Number: len(out) + 1, Text: strings.Join(words[i:min(i+WordsPerPage, len(words))], " ")})
	}
	return out, nil
}

// stopwords are left out of keywords.
var stopwords = map[string]bool{}

func init() {
	for w := range strings.FieldsSeq("a about after all also an and any are as at be been but by can could did do does each for from had has have he her his how i if in into is it its may more most no not of on one or other our out over she so some such than that the their them then there these they this those through to up was we were what when which while who will with would you your") {
		stopwords[w] = true
	}
}

// Summarise summarises one page: its word count, its first sentence and
// its KeywordsPerPage most frequent words (ties in alphabetical order).
func Summarise(_ context.Context, p Page) (PageSummary, error) {
	counts := map[string]int{}
	words := strings.Fields(p.Text)
	for _, w := range words {
		w = strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
		if len(w) > 2 && !stopwords[w] {
			counts[w]++
		}
	}
	keywords := top(counts)
	kept := make(map[string]int, len(keywords))
	for _, k := range keywords {
		kept[k] = counts[k]
	}
	return PageSummary{Chapter: p.Chapter, Number: p.Number, Words: len(words), Lead: lead(p.Text), Keywords: keywords, Counts: kept}, nil
}

// JoinPages puts a chapter's page summaries back together; the runtime
// hands them over in page order. A chapter without pages gets an empty
// summary.
func JoinPages(_ context.Context, pages []PageSummary) (ChapterSummary, error) {
	out := ChapterSummary{Keywords: []string{}, Counts: map[string]int{}}
	for i, p := range pages {
		if p.Number != i+1 {
			return ChapterSummary{}, dge.Permanent(fmt.Errorf("chapter %q: summary %d is of page %d; the gather must hand pages over in order", p.Chapter, i+1, p.Number))
		}
		if i == 0 {
			out.Title, out.Lead = p.Chapter, p.Lead
		}
		out.Pages++
		out.Words += p.Words
		for k, c := range p.Counts {
			out.Counts[k] += c
		}
	}
	out.Keywords = top(out.Counts)
	out.Counts = keep(out.Counts, out.Keywords)
	return out, nil
}

// JoinChapters puts the document's chapter summaries together, in order.
func JoinChapters(_ context.Context, chapters []ChapterSummary) (Summary, error) {
	if chapters == nil {
		chapters = []ChapterSummary{}
	}
	out := Summary{Chapters: chapters}
	counts := map[string]int{}
	for _, c := range chapters {
		if c.Pages < 0 || c.Words < 0 {
			return Summary{}, dge.Permanent(errors.New("summary: a chapter with a negative count"))
		}
		out.Pages += c.Pages
		out.Words += c.Words
		for k, n := range c.Counts {
			counts[k] += n
		}
	}
	out.Keywords = top(counts)
	return out, nil
}

// top returns the KeywordsPerPage most frequent words, most frequent
// first, ties in alphabetical order.
func top(counts map[string]int) []string {
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), strings.Compare(a, b))
	})
	return words[:min(len(words), KeywordsPerPage)]
}

func keep(counts map[string]int, words []string) map[string]int {
	out := make(map[string]int, len(words))
	for _, w := range words {
		out[w] = counts[w]
	}
	return out
}

// lead returns text's first sentence (up to the first '.', '!' or '?'
// followed by a space or the end), at most 200 bytes of it.
func lead(text string) string {
	end := len(text)
	for i, r := range text {
		if (r == '.' || r == '!' || r == '?') && (i+1 == len(text) || text[i+1] == ' ') {
			end = i + 1
			break
		}
	}
	s := text[:end]
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// LogFailure is the graph's on_failure handler: it logs every parked
// message, which stays in its queue's .dead queue for dge parked.
func LogFailure(ctx context.Context, f dge.Failure) {
	slog.WarnContext(ctx, "message parked",
		"node", f.Node,
		"queue", f.Queue,
		"run_id", f.RunID,
		"message_id", f.MessageID,
		"reason", f.Reason,
		"error", f.Error,
	)
}
