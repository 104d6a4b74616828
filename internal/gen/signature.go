package gen

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

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
	// Name is the parameter's name in a stub ("" for the default: in,
	// or parts for a slice).
	Name string
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
	SlotString                   // string: a route's label
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
//	split     func(context.Context, In) ([]Out, error), Out the type of each item
//	route     func(context.Context, In) (string, error), the label of the
//	          path to take (the when of one node the route feeds)
//	gather    func(context.Context, []In) (Out, error) (the list form), or
//	          func(context.Context, Out, In) (Out, error) (the fold form)
//	          when the gather names a zero function
//
// Out is the type the fed node expects from n: its message type, or the
// part it takes from n when it is an aggregate with typed parts.
//
// A gather's handler may take either form (GatherSignatures gives both;
// Check accepts either): the one HandlerSignature returns is the form a
// stub is written in.
//
// It is the one rule both Check and Stubs follow. ok is false for a node
// that calls no handler, or whose input or output is missing (validation
// reports those).
func HandlerSignature(n *config.Node) (sig Signature, ok bool) {
	switch n.Kind {
	case config.KindProcess, config.KindAggregate, config.KindPoll, config.KindSplit:
	case config.KindRoute:
		return RouteSignature(n)
	case config.KindGather:
		list, fold, ok := GatherSignatures(n)
		if n.Zero != "" {
			return fold, ok
		}
		return list, ok
	default:
		return Signature{}, false
	}
	in, out, ok := inOut(n)
	if !ok {
		return Signature{}, false
	}
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
	case config.KindSplit:
		items := Slot{Kind: SlotMessages, Message: out.Message, Name: "items",
			Note: fmt.Sprintf("the split's items, each sent on its own to queue %q, which %s reads", n.To[0].Edge.Queue, n.To[0].Addr())}
		return Signature{Params: []Slot{in}, Results: []Slot{items, errSlot}}, true
	default:
		return Signature{Params: []Slot{in}, Results: []Slot{out, errSlot}}, true
	}
}

// RouteSignature returns the signature of a route's handler:
// func(context.Context, In) (string, error), with In the route's message
// type and the string the label of the path each message takes. ok is
// false for a node that is not a route, or that has no input edge
// (validation reports it).
func RouteSignature(n *config.Node) (sig Signature, ok bool) {
	if n.Kind != config.KindRoute || n.Edge == nil {
		return Signature{}, false
	}
	in := Slot{Kind: SlotMessage, Message: n.Edge.Message, Note: fmt.Sprintf("the message type of queue %q", n.Edge.Queue)}
	label := Slot{Kind: SlotString, Name: "label", Note: "the label of the path to take: " + routeLabels(n)}
	return Signature{Params: []Slot{in}, Results: []Slot{label, {Kind: SlotError}}}, true
}

// routeLabels says which labels a route's paths take, for the note of its
// handler's result: `"invoice" (process.invoice), or any other label
// (process.other)`.
func routeLabels(n *config.Node) string {
	var labels []string
	def := ""
	for _, t := range n.To {
		switch t.When {
		case "":
		case config.WhenDefault:
			def = t.Addr()
		default:
			labels = append(labels, fmt.Sprintf("%q (%s)", t.When, t.Addr()))
		}
	}
	sort.Strings(labels)
	if def != "" {
		labels = append(labels, "any other label ("+def+")")
	}
	switch len(labels) {
	case 0:
		return "the when of a node the route feeds"
	case 1:
		return labels[0]
	}
	return strings.Join(labels[:len(labels)-1], ", ") + " or " + labels[len(labels)-1]
}

// GatherSignatures returns the two forms a gather's handler may take, with
// Item the gather's message type and Out the message type of the node it
// feeds:
//
//	list  func(context.Context, []Item) (Out, error): called once per split
//	      with every item, in index order
//	fold  func(context.Context, Out, Item) (Out, error): called once per
//	      item with the accumulator, which it returns updated
//
// ok is false for a node that is not a gather, or whose input or output is
// missing (validation reports those).
func GatherSignatures(n *config.Node) (list, fold Signature, ok bool) {
	if n.Kind != config.KindGather {
		return Signature{}, Signature{}, false
	}
	in, out, ok := inOut(n)
	if !ok {
		return Signature{}, Signature{}, false
	}
	errSlot := Slot{Kind: SlotError}
	items := Slot{Kind: SlotMessages, Message: in.Message, Name: "items",
		Note: fmt.Sprintf("every item of the split of %s that reached queue %q, in index order", overAddr(n), n.Edge.Queue)}
	list = Signature{Params: []Slot{items}, Results: []Slot{out, errSlot}}
	acc := Slot{Kind: SlotMessage, Message: out.Message, Name: "acc", Note: "the accumulator: " + out.Note}
	item := Slot{Kind: SlotMessage, Message: in.Message, Name: "item", Note: "one item: " + in.Note}
	fold = Signature{Params: []Slot{acc, item}, Results: []Slot{{Kind: SlotMessage, Message: out.Message, Note: "the accumulator with the item folded in"}, errSlot}}
	return list, fold, true
}

// ZeroSignature returns the signature of a gather's zero function, which
// gives the fold's accumulator its starting value: func() Acc, with Acc
// the message type of the node the gather feeds. ok is false as for
// GatherSignatures.
func ZeroSignature(n *config.Node) (acc Slot, ok bool) {
	if n.Kind != config.KindGather {
		return Slot{}, false
	}
	_, out, ok := inOut(n)
	return out, ok
}

// inOut returns the slots of n's input message and of the message it
// emits; ok is false when the edge or the output is missing.
func inOut(n *config.Node) (in, out Slot, ok bool) {
	if n.Edge == nil || len(n.To) == 0 || n.To[0].Edge == nil {
		return Slot{}, Slot{}, false
	}
	in = Slot{Kind: SlotMessage, Message: n.Edge.Message, Note: fmt.Sprintf("the message type of queue %q", n.Edge.Queue)}
	out = Slot{Kind: SlotMessage, Message: n.To[0].InputFrom(n), Note: fmt.Sprintf("the message type of queue %q, which %s reads", n.To[0].Edge.Queue, n.To[0].Addr())}
	return in, out, true
}

// overAddr returns the address of the split a gather closes, or "its
// over" when the loader left it unset.
func overAddr(n *config.Node) string {
	if n.Over == nil {
		return "its over"
	}
	return n.Over.Addr()
}

// OnFailureSignature returns the signature of the graph's on_failure
// function: func(context.Context, runtime.Failure).
func OnFailureSignature() Signature {
	return Signature{Params: []Slot{{Kind: SlotFailure, Note: "the parked message"}}}
}
