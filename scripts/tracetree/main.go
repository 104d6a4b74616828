// Command tracetree prints the spans a dge program writes with
// OTEL_TRACES_EXPORTER=console (one JSON object a line on stderr, among the
// log lines, which it skips) as one tree per trace: each span under its
// parent, in start order, with its start offset and duration, its attempt,
// an error status, its events and the spans it links. For example:
//
//	echo '{"value": 3}' | OTEL_TRACES_EXPORTER=console ./arith local 2>&1 >/dev/null | go run ./scripts/tracetree
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

type spanContext struct{ TraceID, SpanID string }

type span struct {
	Name        string
	SpanContext spanContext
	Parent      spanContext
	SpanKind    int
	StartTime   time.Time
	EndTime     time.Time
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	Events []struct{ Name string }
	Links  []struct{ SpanContext spanContext }
	Status struct{ Code, Description string }
}

func (s span) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return fmt.Sprint(a.Value.Value)
		}
	}
	return ""
}

var kinds = map[int]string{1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracetree:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var spans []span
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var s span
		if json.Unmarshal(sc.Bytes(), &s) == nil && s.SpanContext.SpanID != "" {
			spans = append(spans, s)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(spans) == 0 {
		return fmt.Errorf("no spans on stdin: pipe in the stderr of a program run with OTEL_TRACES_EXPORTER=console")
	}
	slices.SortStableFunc(spans, func(a, b span) int { return a.StartTime.Compare(b.StartTime) })
	byID := map[string]span{}
	children := map[string][]span{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID] = s
	}
	var roots []span
	for _, s := range spans {
		if _, ok := byID[s.Parent.SpanID]; ok {
			children[s.Parent.SpanID] = append(children[s.Parent.SpanID], s)
		} else {
			roots = append(roots, s)
		}
	}
	w := bufio.NewWriter(out)
	for _, r := range roots {
		fmt.Fprintf(w, "trace %s (run %s)\n", r.SpanContext.TraceID, r.attr("dge.run_id"))
		printSpan(w, byID, children, r, r.StartTime, "")
	}
	return w.Flush()
}

func printSpan(w io.Writer, byID map[string]span, children map[string][]span, s span, t0 time.Time, indent string) {
	var notes []string
	if a := s.attr("dge.attempt"); a != "" {
		notes = append(notes, "attempt "+a)
	}
	if s.Status.Code == "Error" {
		notes = append(notes, "error: "+s.Status.Description)
	}
	for _, e := range s.Events {
		if e.Name != "exception" {
			notes = append(notes, "event "+e.Name)
		}
	}
	if len(s.Links) > 0 {
		var ls []string
		for _, l := range s.Links {
			name := l.SpanContext.SpanID
			if o, ok := byID[name]; ok {
				name = o.Name
			}
			ls = append(ls, name)
		}
		notes = append(notes, "links "+strings.Join(ls, ", "))
	}
	line := fmt.Sprintf("%s%-*s %-8s +%7.1fms %7.1fms  %s", indent, 40-len(indent), s.Name, kinds[s.SpanKind],
		ms(s.StartTime.Sub(t0)), ms(s.EndTime.Sub(s.StartTime)), strings.Join(notes, "; "))
	fmt.Fprintln(w, strings.TrimRight(line, " "))
	for _, c := range children[s.SpanContext.SpanID] {
		printSpan(w, byID, children, c, t0, indent+"  ")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
