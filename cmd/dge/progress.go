package main

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/dgehq/dge/plan"
)

// progressObserver is an apply.Observer that dge stops once apply returns.
type progressObserver interface {
	Started(c plan.Change)
	Finished(c plan.Change, skipped bool, err error)
	// stop ends its ticker and clears what it drew.
	stop()
}

// textProgress prints a line per change done, as Terraform does. On a
// terminal it keeps a status line under them, redrawn every second: the
// objects done of the total and the time elapsed.
type textProgress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	total    int
	done     int
	began    time.Time
	now      func() time.Time
	shown    bool // the status line is on screen
	quit     chan struct{}
	wg       sync.WaitGroup
}

// statusEvery is how often the terminal status line is redrawn.
const statusEvery = time.Second

func newTextProgress(w io.Writer, terminal bool, total int, now func() time.Time) *textProgress {
	p := &textProgress{w: w, terminal: terminal, total: total, began: now(), now: now, quit: make(chan struct{})}
	if terminal {
		p.drawStatus()
		p.wg.Add(1)
		go p.tick(statusEvery, p.drawStatus)
	}
	return p
}

func (p *textProgress) tick(every time.Duration, f func()) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			f()
		}
	}
}

func (p *textProgress) Started(plan.Change) {}

func (p *textProgress) Finished(c plan.Change, skipped bool, err error) {
	p.mu.Lock()
	p.done++
	p.clearLocked()
	if err == nil { // an error is reported once, at the end
		fmt.Fprintf(p.w, "%s: %s\n", c.Address, progressWord(c.Action, skipped))
	}
	p.mu.Unlock()
	if p.terminal {
		p.drawStatus()
	}
}

func (p *textProgress) drawStatus() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "%s", statusLine(p.done, p.total, p.now().Sub(p.began)))
	p.shown = true
}

// statusLine reads "[3/16] 4s elapsed".
func statusLine(done, total int, elapsed time.Duration) string {
	return fmt.Sprintf("[%d/%d] %s elapsed", done, total, elapsed.Truncate(time.Second))
}

// clearLocked erases the status line, leaving the cursor at its start.
func (p *textProgress) clearLocked() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func (p *textProgress) stop() {
	close(p.quit)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

// progressWord is the text progress line's word for a change done.
func progressWord(a plan.Action, skipped bool) string {
	switch a {
	case plan.Create:
		return "Creation complete"
	case plan.Update:
		return "Modifications complete"
	case plan.Replace:
		return "Replacement complete"
	case plan.Delete:
		if skipped {
			return "Destruction complete (removed by the broker with its queue or exchange)"
		}
		return "Destruction complete"
	}
	return string(a)
}

// jsonProgress writes the machine-readable UI's hooks: apply_start and
// apply_complete or apply_errored per change, and at every tick (apply:
// progressEvery) an apply_progress line per change still in flight, as
// Terraform does.
type jsonProgress struct {
	mu       sync.Mutex
	ui       *jsonUI
	now      func() time.Time
	inFlight map[string]inFlight
	quit     chan struct{}
	wg       sync.WaitGroup
}

type inFlight struct {
	c     plan.Change
	began time.Time
}

// progressEvery is how often apply -json reports the changes in flight.
const progressEvery = 10 * time.Second

func newJSONProgress(ui *jsonUI, now func() time.Time, every time.Duration) *jsonProgress {
	p := &jsonProgress{ui: ui, now: now, inFlight: map[string]inFlight{}, quit: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.still()
			}
		}
	}()
	return p
}

func (p *jsonProgress) Started(c plan.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[c.Address] = inFlight{c: c, began: p.now()}
	p.ui.hook("apply_start", c, 0)
}

func (p *jsonProgress) Finished(c plan.Change, _ bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.inFlight[c.Address]
	delete(p.inFlight, c.Address)
	typ := "apply_complete"
	if err != nil {
		typ = "apply_errored"
	}
	p.ui.hook(typ, c, p.now().Sub(f.began))
}

// still writes apply_progress for every change in flight, by address.
func (p *jsonProgress) still() {
	p.mu.Lock()
	defer p.mu.Unlock()
	addrs := make([]string, 0, len(p.inFlight))
	for a := range p.inFlight {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		f := p.inFlight[a]
		p.ui.hook("apply_progress", f.c, p.now().Sub(f.began))
	}
}

func (p *jsonProgress) stop() {
	close(p.quit)
	p.wg.Wait()
}
