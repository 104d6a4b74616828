package plan

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dgehq/dge/topology"
)

// lossKeys are the policy keys that make RabbitMQ expire, cap, drop,
// delete or dead-letter a queue's messages on its own (an operator policy
// may set each of them). dge sets some on some of its queues (the retry
// and poll TTLs, the work queues' delivery-limit); any other value, or a
// stricter one, loses messages dge counts on.
var lossKeys = []string{"message-ttl", "expires", "max-length", "max-length-bytes", "delivery-limit"}

// lossKeysOf returns the keys of def, in lossKeys order, that would make
// RabbitMQ drop or strand messages of a queue whose own settings (dge's
// policy definition and the queue's arguments, either may be nil) are own
// and args. A value no stricter than one dge already sets changes nothing:
// RabbitMQ applies the lower of the two; nor does any message-ttl on a
// queue dge gives one.
func lossKeysOf(def, own, args map[string]any) []string {
	var out []string
	for _, k := range lossKeys {
		v, ok := def[k].(float64)
		if !ok {
			if _, set := def[k]; set {
				out = append(out, k) // not a number: RabbitMQ refuses it, but say so
			}
			continue
		}
		mine, ok := ownValue(k, own, args)
		if ok && (mine <= v || k == "message-ttl") {
			// A queue dge gives a TTL (a retry or poll queue) dead-letters
			// what expires back to its work queue: a lower TTL only
			// shortens the wait.
			continue
		}
		out = append(out, k)
	}
	return out
}

// stateLossKeys are the policy keys that lose or corrupt a gather's
// checkpoints in its state queue (Q.state): lossKeys, plus overflow (what
// the queue does at a length limit: drop its oldest checkpoints, refuse new
// ones or dead-letter them) and dead-letter-exchange (where a checkpoint
// goes instead of vanishing). dge sets none of them on a state queue, so
// any value is a loss.
var stateLossKeys = append(append([]string(nil), lossKeys...), "overflow", "dead-letter-exchange")

// StateQueue reports whether the graph's queue of that name is a gather's
// state queue (Q.state, topology.RoleState): ".state" is a suffix the
// language reserves, so no other queue of a graph ends in it.
func StateQueue(name string) bool { return strings.HasSuffix(name, topology.SuffixState) }

func stateQueue(q Queue) bool { return StateQueue(q.Name) }

// lossKeysFor returns the keys of def that lose messages of q, whose own
// dge policy definition is own (nil for none): lossKeysOf's, and for a
// state queue every key of stateLossKeys that def sets.
func lossKeysFor(q Queue, def, own map[string]any) []string {
	if !stateQueue(q) {
		return lossKeysOf(def, own, q.Arguments)
	}
	var out []string
	for _, k := range stateLossKeys {
		if _, ok := def[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// ownValue is the lower of the values dge's own policy and the queue's
// arguments set for key k.
func ownValue(k string, own, args map[string]any) (float64, bool) {
	p, okp := own[k].(float64)
	a, oka := args["x-"+k].(float64)
	switch {
	case okp && oka:
		return min(p, a), true
	case okp:
		return p, true
	case oka:
		return a, true
	}
	return 0, false
}

// lossEffects says, one line per key, what the keys of def do to the
// graph's queues.
func lossEffects(def map[string]any, keys []string) []string {
	var out []string
	for _, k := range keys {
		v := formatValue(def[k])
		switch k {
		case "message-ttl":
			out = append(out, fmt.Sprintf("message-ttl %s (ms): a message older than that expires. From a work or terminate queue it goes to its retry queue and back until RabbitMQ detects a dead-letter cycle and strands it in the queue's dead-letter buffer (messages_dlx in dge status), where nothing consumes it; from a parking queue (.dead) it is dropped.", v))
		case "expires":
			out = append(out, fmt.Sprintf("expires %s (ms): RabbitMQ deletes a queue left unused that long, with its messages; retry, parking and terminate queues are often idle for longer.", v))
		case "max-length", "max-length-bytes":
			out = append(out, fmt.Sprintf("%s %s: a parking queue (.dead) that reaches it drops its oldest message; a work or retry queue refuses new messages (dge's x-overflow reject-publish), which stalls the nodes that publish to it and can livelock a join.", k, v))
		case "delivery-limit":
			out = append(out, fmt.Sprintf("delivery-limit %s: RabbitMQ dead-letters a message delivered more often, before dge's own crash threshold, so a message redelivered after lost connections is parked though it never failed, or dropped from a parking queue.", v))
		}
	}
	return out
}

// stateQueuesNote says what the gather state queues named hold, and why
// none of it may be lost; with no names, of "such a queue".
func stateQueuesNote(queues []string) string {
	const what = "each unfinished split's checkpoint: the accumulator and the indexes it holds, whose items are already acknowledged, so that the gather instance that takes over after a crash or a restart goes on from there."
	if len(queues) == 0 {
		return "Such a queue holds " + what
	}
	return fmt.Sprintf("The gather state queues (%s) hold %s", listNames(queues), what)
}

// stateLossEffects says, one line per key, what the keys of def do to the
// checkpoints of a gather's state queues. A lost checkpoint cannot be
// rebuilt: the items it folded are acknowledged.
func stateLossEffects(def map[string]any, keys []string) []string {
	var out []string
	lost := "a gather instance that takes over no longer has what was folded, so the split never completes (its state is parked as incomplete-split at the gather's timeout) or completes missing items"
	for _, k := range keys {
		v := formatValue(def[k])
		switch k {
		case "message-ttl":
			out = append(out, fmt.Sprintf("message-ttl %s (ms): a checkpoint older than that expires and is dropped (a state queue has no dead-letter exchange): %s.", v, lost))
		case "expires":
			out = append(out, fmt.Sprintf("expires %s (ms): RabbitMQ deletes a state queue left unused that long (its gather stopped) with every checkpoint in it: %s.", v, lost))
		case "max-length", "max-length-bytes":
			out = append(out, fmt.Sprintf("%s %s: a state queue that reaches it drops its oldest checkpoints: %s.", k, v, lost))
		case "delivery-limit":
			out = append(out, fmt.Sprintf("delivery-limit %s: each failover of the gather's active instance redelivers its checkpoints; one delivered more often is dropped: %s.", v, lost))
		case "overflow":
			out = append(out, fmt.Sprintf("overflow %s: what a state queue does at a length limit (from this or an operator policy): drop checkpoints, refuse new ones (the gather stalls) or dead-letter them; a state queue must never have a limit.", v))
		case "dead-letter-exchange":
			out = append(out, fmt.Sprintf("dead-letter-exchange %s: a checkpoint the gather rejects or that the broker drops is dead-lettered there with its routing key, the state queue's name: through dge's work exchange it comes back to the state queue, where a superseded checkpoint may be adopted again and its items folded twice; elsewhere the gather's state leaves the graph.", v))
		}
	}
	return out
}

// ExcludePattern returns pattern changed so that it matches none of the
// graph's queues and whatever else it matched: a leading negative
// lookahead over the queues' names, which RabbitMQ's regular expressions
// (PCRE) support and dge evaluates.
func ExcludePattern(want Objects, pattern string) string {
	mine := strings.TrimPrefix(queuesPattern(want), "^")
	if rest, ok := strings.CutPrefix(pattern, "^(?!"); ok {
		if end := groupEnd(rest); end >= 0 {
			return "^(?!" + mine + "|" + rest
		}
	}
	if slices.Contains([]string{"", ".*", "^.*", "^.*$", ".*$"}, pattern) {
		return "^(?!" + mine + ").*"
	}
	return "^(?!" + mine + ").*(?:" + pattern + ")"
}

// queuesPattern matches the names of want's queues: each edge's queue and
// every suffix of topology.Suffixes (.retry, .dead, .poll, .state), written
// once per edge; the suffixes an edge does not use yet are covered too, so
// an exclusion stays right when the edge's node changes kind.
func queuesPattern(want Objects) string {
	suffixes := slices.Clone(topology.Suffixes)
	var bases []string
	for _, q := range want.Queues {
		base := q.Name
		for _, s := range suffixes {
			base = strings.TrimSuffix(base, s)
		}
		if !slices.Contains(bases, base) {
			bases = append(bases, base)
		}
	}
	sort.Strings(bases)
	for i, b := range bases {
		bases[i] = regexp.QuoteMeta(b)
	}
	for i, s := range suffixes {
		suffixes[i] = regexp.QuoteMeta(s)
	}
	return `^(?:` + strings.Join(bases, "|") + `)(?:` + strings.Join(suffixes, "|") + `)?$`
}

// setPolicyCommand is the rabbitmqctl command (set_policy or
// set_operator_policy) that rewrites p with ExcludePattern's pattern.
func setPolicyCommand(verb string, want Objects, p Policy) string {
	def, _ := json.Marshal(p.Definition)
	return fmt.Sprintf("rabbitmqctl %s -p %s --priority %d --apply-to %s %s %s %s", verb,
		shellWord(want.Vhost), p.Priority, shellWord(p.ApplyTo), shellWord(p.Name), shellWord(ExcludePattern(want, p.Pattern)), shellWord(string(def)))
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
