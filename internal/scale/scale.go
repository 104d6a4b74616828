// Package scale holds the one statement of how dge scales a node by its
// queue: the rule KEDA's RabbitMQ trigger applies in mode QueueLength,
// with the Kubernetes HorizontalPodAutoscaler's scale-down stabilisation.
// dge run applies it on one machine (internal/supervise); dge deploy
// writes the same numbers into KEDA ScaledObjects, so a graph scales alike
// on a laptop and on a cluster.
//
// The rule, for a node with a deploy block's min_replicas, max_replicas,
// ready_per_replica and cooldown:
//
//	desired = clamp(ceil(ready / ready_per_replica), min, max)   (ready 0: min)
//
// A desired count above the current one is taken at once. A desired count
// below it is taken only once desired has stayed below the current count
// for the whole cooldown, and then it is the highest desired count seen
// during that cooldown (the HPA's stabilisation window), so a queue that
// drains and fills again does not make replicas come and go.
package scale

import (
	"time"

	"github.com/dgehq/dge/config"
)

// Rule is a node's scaling settings.
type Rule struct {
	// Min and Max bound the replicas; Max >= Min >= 0 and Max >= 1.
	Min, Max int
	// ReadyPerReplica is the ready messages each replica is meant to take
	// (at least 1).
	ReadyPerReplica int
	// Cooldown is how long desired must stay below the current count
	// before the count goes down.
	Cooldown time.Duration
}

// FromDeploy returns the Rule of a node's deploy settings.
func FromDeploy(d config.Deploy) Rule {
	return Rule{Min: d.MinReplicas, Max: d.MaxReplicas, ReadyPerReplica: d.ReadyPerReplica, Cooldown: d.Cooldown}
}

// Desired returns the replicas the rule aims at for a queue of ready
// messages: ceil(ready / ReadyPerReplica), at least Min and at most Max
// (Min when the queue is empty).
func (r Rule) Desired(ready int64) int {
	per := int64(max(r.ReadyPerReplica, 1))
	want := int64(r.Min)
	if ready > 0 {
		want = (ready + per - 1) / per
	}
	return int(min(max(want, int64(r.Min)), int64(max(r.Max, r.Min))))
}

// Scaler applies a Rule over time to one node: it remembers how long the
// desired count has been below the current one. The zero Scaler is not
// usable; make one with New. A Scaler is not safe for concurrent use.
type Scaler struct {
	rule Rule
	// below is when desired last went below the current count; zero while
	// it is not below.
	below time.Time
	// window holds the desired counts seen since below, for the highest
	// of them.
	window []sample
}

type sample struct {
	at      time.Time
	desired int
}

// New returns a Scaler for rule.
func New(rule Rule) *Scaler { return &Scaler{rule: rule} }

// Rule returns the rule the Scaler applies.
func (s *Scaler) Rule() Rule { return s.rule }

// Next returns the replicas a node of current replicas should have, now,
// with ready messages in its queue: more at once when the rule desires
// more; fewer only when desired has stayed below current for the whole
// cooldown, and then the highest desired count seen in that time; else
// current. A current count outside [Min, Max] is brought inside at once.
func (s *Scaler) Next(now time.Time, ready int64, current int) int {
	desired := s.rule.Desired(ready)
	switch {
	case current < s.rule.Min || current > max(s.rule.Max, s.rule.Min):
		s.reset()
		return min(max(current, s.rule.Min), max(s.rule.Max, s.rule.Min))
	case desired >= current:
		s.reset()
		return desired
	}
	if s.below.IsZero() {
		s.below = now
	}
	s.window = append(s.window, sample{at: now, desired: desired})
	if now.Sub(s.below) < s.rule.Cooldown {
		return current
	}
	// The highest desired count within the last cooldown is the target.
	cut := now.Add(-s.rule.Cooldown)
	target, kept := desired, s.window[:0]
	for _, v := range s.window {
		if v.at.Before(cut) {
			continue
		}
		kept = append(kept, v)
		target = max(target, v.desired)
	}
	s.window = kept
	if target < current {
		s.reset()
	}
	return target
}

func (s *Scaler) reset() {
	s.below = time.Time{}
	s.window = s.window[:0]
}
