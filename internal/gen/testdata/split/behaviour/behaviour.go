// Package behaviour holds the message types and handlers of the generator's
// "split" test graph.
package behaviour

import (
	"context"
	"fmt"
	"strings"
)

// Range is the numbers From to To, both included.
type Range struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Number is one number of a range, then its Fibonacci number.
type Number struct {
	N int `json:"n"`
}

// Total is the sum of a split's numbers and how many it added.
type Total struct {
	Sum   int `json:"sum"`
	Count int `json:"count"`
}

// Numbers splits a range into its numbers.
func Numbers(ctx context.Context, r Range) ([]Number, error) {
	if r.To < r.From {
		return nil, fmt.Errorf("range %d..%d ends before it starts", r.From, r.To)
	}
	items := make([]Number, 0, r.To-r.From+1)
	for n := r.From; n <= r.To; n++ {
		items = append(items, Number{N: n})
	}
	return items, nil
}

// FibAt returns the n-th Fibonacci number (FibAt(1) = FibAt(2) = 1).
func FibAt(ctx context.Context, in Number) (Number, error) {
	a, b := 0, 1
	for range in.N {
		a, b = b, a+b
	}
	return Number{N: a}, nil
}

// NewTotal is the sum's starting value.
func NewTotal() Total { return Total{} }

// Sum folds one number into the total.
func Sum(ctx context.Context, acc Total, item Number) (Total, error) {
	return Total{Sum: acc.Sum + item.N, Count: acc.Count + 1}, nil
}

// Batch is a set of documents to summarise.
type Batch struct {
	Documents []Document `json:"documents"`
}

// Document is one document, its pages separated by form feeds.
type Document struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Page is one page of a document.
type Page struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
}

// PageText is a page's text, read.
type PageText struct {
	Words int `json:"words"`
}

// Summary is a document's summary.
type Summary struct {
	Pages int `json:"pages"`
	Words int `json:"words"`
}

// Report sums up a batch's summaries.
type Report struct {
	Documents int `json:"documents"`
	Words     int `json:"words"`
}

// Documents splits a batch into its documents.
func Documents(ctx context.Context, b Batch) ([]Document, error) {
	return b.Documents, nil
}

// Pages splits a document into its pages.
func Pages(ctx context.Context, d Document) ([]Page, error) {
	var pages []Page
	for i, text := range strings.Split(d.Text, "\f") {
		pages = append(pages, Page{Number: i + 1, Text: text})
	}
	return pages, nil
}

// Read counts a page's words.
func Read(ctx context.Context, p Page) (PageText, error) {
	return PageText{Words: len(strings.Fields(p.Text))}, nil
}

// Summarise gathers a document's pages, in page order.
func Summarise(ctx context.Context, items []PageText) (Summary, error) {
	s := Summary{Pages: len(items)}
	for _, p := range items {
		s.Words += p.Words
	}
	return s, nil
}

// Tally folds one document's summary into the batch's report.
func Tally(ctx context.Context, acc Report, item Summary) (Report, error) {
	return Report{Documents: acc.Documents + 1, Words: acc.Words + item.Words}, nil
}
