package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// Reader reads the live state of a vhost. internal/mgmt implements it with
// a constant number of management API requests; tests use fakes.
type Reader interface {
	// Read returns the vhost's live objects, normalised by Normalize.
	Read(ctx context.Context, vhost string) (*Snapshot, error)
}

// Snapshot is the live state of a vhost: its objects, normalised, and the
// message and consumer counts of its queues. Its Owner is empty.
type Snapshot struct {
	Objects
	// Stats holds each queue's counts by queue name. The management API
	// refreshes them every 5 seconds by default, so they may lag.
	Stats map[string]QueueStats `json:"stats,omitempty"`
	// OperatorPolicies are the vhost's operator policies, which RabbitMQ
	// merges with the policy governing each queue (CheckPolicies).
	OperatorPolicies []Policy `json:"operator_policies,omitempty"`
}

// QueueStats are a queue's statistics as the management API last sampled
// them: the counts that make deleting a queue unsafe, and the policy
// applied to it.
type QueueStats struct {
	Messages  int64 `json:"messages"`
	Consumers int64 `json:"consumers"`
	// Policy is the name of the policy RabbitMQ applies to the queue, ""
	// for none. It lags a policy change by about 5 seconds.
	Policy string `json:"policy,omitempty"`
	// OperatorPolicy is the name of the operator policy RabbitMQ merges
	// into the queue's, "" for none; it lags like Policy.
	OperatorPolicy string `json:"operator_policy,omitempty"`
}

// Normalize puts a snapshot read from the broker in the form the diff
// compares: default-exchange bindings dropped, x-queue-type moved into
// Queue.Type (absent means classic), numbers as float64 so they compare by
// value, empty maps as nil, every list sorted.
func (s *Snapshot) Normalize() {
	for i := range s.Exchanges {
		s.Exchanges[i].Arguments = NormalizeMap(s.Exchanges[i].Arguments)
	}
	for i := range s.Queues {
		q := &s.Queues[i]
		args := NormalizeMap(q.Arguments)
		if t, ok := args["x-queue-type"].(string); ok {
			if q.Type == "" {
				q.Type = t
			}
			delete(args, "x-queue-type")
			if len(args) == 0 {
				args = nil
			}
		}
		if q.Type == "" {
			q.Type = "classic"
		}
		q.Arguments = args
	}
	bindings := s.Bindings[:0]
	for _, b := range s.Bindings {
		if b.Source == "" {
			continue // the default exchange binds every queue implicitly
		}
		b.Arguments = NormalizeMap(b.Arguments)
		bindings = append(bindings, b)
	}
	s.Bindings = bindings
	for i := range s.Policies {
		s.Policies[i].Definition = NormalizeMap(s.Policies[i].Definition)
	}
	for i := range s.OperatorPolicies {
		s.OperatorPolicies[i].Definition = NormalizeMap(s.OperatorPolicies[i].Definition)
	}
	sort.Slice(s.OperatorPolicies, func(i, j int) bool { return s.OperatorPolicies[i].Name < s.OperatorPolicies[j].Name })
	s.sort()
}

// NormalizeMap returns m with every number (of any Go numeric type or
// json.Number) as a float64, recursively, and nil for an empty map.
func NormalizeMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = normalizeValue(v)
	}
	return out
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		n := NormalizeMap(x)
		if n == nil {
			return map[string]any{}
		}
		return n
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}

// formatValue renders a normalised value the way plans show it: strings
// quoted, whole numbers without a decimal point, maps and lists as JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		b, _ := json.Marshal(x)
		return string(b)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%g", x)
	case bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// canonicalJSON encodes v with sorted map keys (encoding/json sorts them).
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
