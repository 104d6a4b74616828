// Package behaviour holds the message types and handlers of the generator's
// "route" test graph.
package behaviour

import (
	"context"
	"fmt"
)

// Document is a document of some kind and size.
type Document struct {
	Kind string `json:"kind"`
	Size int    `json:"size"`
}

// Filed is a document filed by one of the paths.
type Filed struct {
	Path string `json:"path"`
	Size int    `json:"size"`
}

// Batch is a set of documents to file.
type Batch struct {
	Documents []Document `json:"documents"`
}

// Tally counts the documents of a batch and their sizes once filed.
type Tally struct {
	Count int `json:"count"`
	Size  int `json:"size"`
}

// Kind names the path a document takes: its kind ("invoice", "receipt";
// any other kind takes the default path).
func Kind(ctx context.Context, in Document) (string, error) {
	return in.Kind, nil
}

// FileInvoice files an invoice.
func FileInvoice(ctx context.Context, in Document) (Filed, error) {
	return Filed{Path: "invoices", Size: in.Size}, nil
}

// FileReceipt files a receipt.
func FileReceipt(ctx context.Context, in Document) (Filed, error) {
	return Filed{Path: "receipts", Size: in.Size}, nil
}

// FileOther files a document of any other kind.
func FileOther(ctx context.Context, in Document) (Filed, error) {
	return Filed{Path: "others/" + in.Kind, Size: in.Size}, nil
}

// Documents splits a batch into its documents.
func Documents(ctx context.Context, in Batch) ([]Document, error) {
	return in.Documents, nil
}

// Size names a document's path by its size: "large" above 1,000, "small"
// from 0 to 1,000; a negative size is a label no path takes.
func Size(ctx context.Context, in Document) (string, error) {
	switch {
	case in.Size > 1000:
		return "large", nil
	case in.Size >= 0:
		return "small", nil
	}
	return fmt.Sprintf("negative size %d", in.Size), nil
}

// Shrink halves a large document.
func Shrink(ctx context.Context, in Document) (Document, error) {
	return Document{Kind: in.Kind, Size: in.Size / 2}, nil
}

// Keep passes a small document on as it is.
func Keep(ctx context.Context, in Document) (Document, error) {
	return in, nil
}

// Stamp files a document of the batch, whichever path it took.
func Stamp(ctx context.Context, in Document) (Filed, error) {
	return Filed{Path: "batch/" + in.Kind, Size: in.Size}, nil
}

// Count tallies a batch's filed documents.
func Count(ctx context.Context, items []Filed) (Tally, error) {
	t := Tally{Count: len(items)}
	for _, f := range items {
		t.Size += f.Size
	}
	return t, nil
}
