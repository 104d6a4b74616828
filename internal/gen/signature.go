package gen

import (
	"fmt"
	"strconv"

	"github.com/dgehq/dge/config"
)

// Slot is one parameter or result of a handler's signature after the
// leading context.Context: what type it has, in terms of the graph, and
// what it carries.
type Slot struct {
	Kind SlotKind
	// Message is the message type's name in the handlers package, for
	// SlotMessage and SlotMessages.
	Message string
	// Note says what the slot carries, for diagnostics ("" for none).
	Note string
}

// SlotKind is the kind of type a Slot has.
type SlotKind int

// The kinds of slot.
const (
	SlotMessage  SlotKind = iota // a message type of the handlers package
	SlotMessages                 // a slice of a message type
	SlotBool                     // bool
	SlotError                    // error
	SlotFailure                  // runtime.Failure
)

// Signature is the function a handler must be:
// func(context.Context, Params...) (Results...).
type Signature struct {
	Params, Results []Slot
}

// HandlerSignature returns the signature of the handler n names, with In
// the node's message type and Out the message type of the node it feeds:
//
//	process   func(context.Context, In) (Out, error)
//	aggregate func(context.Context, []In) (Out, error)
//	aggregate with typed parts (message = ["A", "B"])
//	          func(context.Context, A, B) (Out, error), one parameter per part
//	poll      func(context.Context, In) (Out, bool, error)
//
// Out is the type the fed node expects from n: its message type, or the
// part it takes from n when it is an aggregate with typed parts.
//
// It is the one rule both Check and Stubs follow. ok is false for a node
// that calls no handler, or whose input or output is missing (validation
// reports those).
func HandlerSignature(n *config.Node) (sig Signature, ok bool) {
	switch n.Kind {
	case config.KindProcess, config.KindAggregate, config.KindPoll:
	default:
		return Signature{}, false
	}
	if n.Edge == nil || len(n.To) == 0 || n.To[0].Edge == nil {
		return Signature{}, false
	}
	in := Slot{Kind: SlotMessage, Message: n.Edge.Message, Note: fmt.Sprintf("the message type of queue %q", n.Edge.Queue)}
	out := Slot{Kind: SlotMessage, Message: n.To[0].InputFrom(n), Note: fmt.Sprintf("the message type of queue %q, which %s reads", n.To[0].Edge.Queue, n.To[0].Addr())}
	errSlot := Slot{Kind: SlotError}
	switch n.Kind {
	case config.KindAggregate:
		if n.Edge.Typed() {
			if len(n.Edge.Parts) != len(n.From) {
				return Signature{}, false // validation reports it
			}
			params := make([]Slot, len(n.From))
			for i, f := range n.From {
				params[i] = Slot{Kind: SlotMessage, Message: n.Edge.Parts[i], Note: fmt.Sprintf("the part from %s, message[%d] of queue %q", f.Addr(), i, n.Edge.Queue)}
			}
			return Signature{Params: params, Results: []Slot{out, errSlot}}, true
		}
		parts := Slot{Kind: SlotMessages, Message: n.Edge.Message, Note: "one message of queue " + strconv.Quote(n.Edge.Queue) + " from each node in from, in from order"}
		return Signature{Params: []Slot{parts}, Results: []Slot{out, errSlot}}, true
	case config.KindPoll:
		done := Slot{Kind: SlotBool, Note: "done: false to check again after the interval"}
		return Signature{Params: []Slot{in}, Results: []Slot{out, done, errSlot}}, true
	default:
		return Signature{Params: []Slot{in}, Results: []Slot{out, errSlot}}, true
	}
}

// OnFailureSignature returns the signature of the graph's on_failure
// function: func(context.Context, runtime.Failure).
func OnFailureSignature() Signature {
	return Signature{Params: []Slot{{Kind: SlotFailure, Note: "the parked message"}}}
}
