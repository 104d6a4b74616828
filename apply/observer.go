package apply

import "github.com/dgehq/dge/plan"

// Observer hears of each change as Apply executes it, so a caller can show
// progress (dge renders it as text lines, a terminal status line or JSON
// events). Apply calls its methods one at a time, never concurrently, in
// the order the events happen; changes of a phase that never starts (an
// earlier phase failed, or the context ended) are not reported. A method
// must return quickly: requests in flight wait for it.
type Observer interface {
	// Started is called just before apply sends a change's first request.
	Started(c plan.Change)
	// Finished is called once the change is done: err is nil when it
	// succeeded; skipped is true when there was nothing to do (a binding
	// the broker removed with its queue or exchange).
	Finished(c plan.Change, skipped bool, err error)
}
