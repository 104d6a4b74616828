package supervise

import (
	"fmt"
	"time"
)

// EventType says what an Event reports.
type EventType string

// The events a Supervisor reports.
const (
	// Started: a replica's first process started (PID).
	Started EventType = "started"
	// Exited: a replica's process ended without being asked to (Code or
	// Signal, or Error when it could not start); it will be restarted.
	Exited EventType = "exited"
	// Restarted: a replica's process started again after Backoff, the
	// replica's Restarts-th restart (PID).
	Restarted EventType = "restarted"
	// Scaled: the node's replicas went From → To for Ready messages.
	Scaled EventType = "scaled"
	// CrashLoop: the node restarted more than Options.CrashLoopRestarts
	// times within Options.CrashLoopWindow (Restarts in the window).
	CrashLoop EventType = "crash-loop"
	// Stopped: a replica dge stopped (scale-down or shutdown) ended (Code
	// or Signal; Killed when it outlived its grace and got SIGKILL).
	Stopped EventType = "stopped"
	// CountFailed: the node's queue could not be counted (Error); its
	// replicas stay as they are until a count succeeds.
	CountFailed EventType = "count-failed"
)

// Event is one thing that happened to a node or one of its replicas.
type Event struct {
	Time time.Time `json:"time"`
	Type EventType `json:"type"`
	// Node is the node's address, e.g. process.fib.
	Node string `json:"node"`
	// Replica numbers the node's replica, from 1; 0 for node events.
	Replica int `json:"replica,omitempty"`
	PID     int `json:"pid,omitempty"`
	// Code is the process's exit code; nil when a signal ended it.
	Code   *int   `json:"code,omitempty"`
	Signal string `json:"signal,omitempty"`
	Killed bool   `json:"killed,omitempty"`
	Error  string `json:"error,omitempty"`
	// Restarts counts the replica's restarts (Restarted), or the node's
	// restarts within the crash-loop window (CrashLoop).
	Restarts  int   `json:"restarts,omitempty"`
	BackoffMS int64 `json:"backoff_ms,omitempty"`
	// From, To and Ready are set for Scaled.
	From  *int   `json:"from,omitempty"`
	To    *int   `json:"to,omitempty"`
	Ready *int64 `json:"ready,omitempty"`
}

// String describes the event in one line, as the Console shows it.
func (e Event) String() string {
	who := e.Node
	if e.Replica > 0 {
		who = fmt.Sprintf("%s#%d", e.Node, e.Replica)
	}
	switch e.Type {
	case Started:
		return fmt.Sprintf("%s started (pid %d)", who, e.PID)
	case Restarted:
		return fmt.Sprintf("%s restarted (pid %d, restart %d, after %s)", who, e.PID, e.Restarts, time.Duration(e.BackoffMS)*time.Millisecond)
	case Exited:
		return fmt.Sprintf("%s exited (%s); restarting it", who, e.how())
	case Stopped:
		return fmt.Sprintf("%s stopped (%s)", who, e.how())
	case Scaled:
		return fmt.Sprintf("%s scaled from %d to %d replicas (%d ready)", who, deref(e.From), deref(e.To), deref(e.Ready))
	case CrashLoop:
		return fmt.Sprintf("%s is in a crash loop: %d restarts within the crash-loop window; its replicas are restarted with backoff all the same: read their last lines above for the cause", who, e.Restarts)
	case CountFailed:
		return fmt.Sprintf("%s: cannot count its queue: %s; its replicas stay as they are until a count succeeds", who, e.Error)
	}
	return fmt.Sprintf("%s %s", who, e.Type)
}

func (e Event) how() string {
	switch {
	case e.Error != "":
		return e.Error
	case e.Killed:
		return "killed with SIGKILL after its grace period"
	case e.Signal != "":
		return "signal " + e.Signal
	case e.Code != nil:
		return fmt.Sprintf("exit code %d", *e.Code)
	}
	return "ended"
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
