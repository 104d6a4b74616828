package supervise

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Console merges the lines of many writers onto one: each line is written
// whole, with its prefix ("process.fib#2 | "), so lines never interleave.
// On a terminal it keeps a status block (a line per node) under the
// lines: it is erased before a line is written and drawn again after.
// A Console is safe for concurrent use.
type Console struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	status   []string // the status block as drawn; none off a terminal
}

// NewConsole returns a Console writing to w; terminal turns the status
// block on (only for a terminal: it uses ANSI cursor movement).
func NewConsole(w io.Writer, terminal bool) *Console {
	return &Console{w: w, terminal: terminal}
}

// Line writes one line of text with its prefix.
func (c *Console) Line(prefix, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	fmt.Fprintf(c.w, "%s | %s\n", prefix, strings.TrimRight(text, "\r\n"))
	c.draw()
}

// SetStatus replaces the status block with lines, on a terminal; off a
// terminal it does nothing.
func (c *Console) SetStatus(lines []string) {
	if !c.terminal {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	c.status = append(c.status[:0], lines...)
	c.draw()
}

// ClearStatus erases the status block for good.
func (c *Console) ClearStatus() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	c.status = nil
}

// erase moves the cursor to the first line of the status block and clears
// to the end of the screen.
func (c *Console) erase() {
	if len(c.status) > 0 {
		fmt.Fprintf(c.w, "\x1b[%dA\r\x1b[J", len(c.status))
	}
}

func (c *Console) draw() {
	for _, l := range c.status {
		fmt.Fprintf(c.w, "%s\x1b[K\n", l)
	}
}

// copyLines writes every line read from r to the Console with prefix,
// until r ends. A last line without a newline is written too.
func (c *Console) copyLines(prefix string, r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.Line(prefix, line)
		}
		if err != nil {
			return
		}
	}
}
