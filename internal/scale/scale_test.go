package scale_test

import (
	"testing"
	"time"

	"github.com/dgehq/dge/config"
	"github.com/dgehq/dge/internal/scale"
)

func TestDesired(t *testing.T) {
	r := scale.Rule{Min: 1, Max: 4, ReadyPerReplica: 10}
	for _, tc := range []struct {
		ready int64
		want  int
	}{
		{0, 1}, {1, 1}, {10, 1}, {11, 2}, {20, 2}, {21, 3}, {40, 4}, {41, 4}, {1_000_000, 4},
	} {
		if got := r.Desired(tc.ready); got != tc.want {
			t.Errorf("Desired(%d) = %d; want %d", tc.ready, got, tc.want)
		}
	}
	zeroMin := scale.Rule{Min: 0, Max: 3, ReadyPerReplica: 100}
	if got := zeroMin.Desired(0); got != 0 {
		t.Errorf("min 0: Desired(0) = %d; want 0", got)
	}
	if got := zeroMin.Desired(1); got != 1 {
		t.Errorf("min 0: Desired(1) = %d; want 1 (one message wakes a replica)", got)
	}
	fixed := scale.FromDeploy(config.DefaultDeploy())
	if got := fixed.Desired(1_000_000); got != 1 {
		t.Errorf("the default deploy: Desired(1e6) = %d; want 1 (no scaling)", got)
	}
}

func TestScaler(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		sec     int
		ready   int64
		current int
		want    int
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"up at once to desired", []step{{0, 0, 1, 1}, {1, 35, 1, 4}}},
		{"up clamps at max", []step{{0, 1000, 1, 4}}},
		{"down only after the whole cooldown", []step{
			{0, 0, 4, 4}, {5, 0, 4, 4}, {9, 0, 4, 4}, {10, 0, 4, 1},
		}},
		{"a rise in the cooldown restarts it", []step{
			{0, 0, 4, 4}, {5, 40, 4, 4}, {6, 0, 4, 4}, {15, 0, 4, 4}, {16, 0, 4, 1},
		}},
		{"down to the highest desired of the cooldown", []step{
			{0, 25, 4, 4}, {4, 5, 4, 4}, {10, 5, 4, 3}, {11, 5, 3, 3}, {15, 5, 3, 3}, {20, 5, 3, 3}, {21, 5, 3, 1},
		}},
		{"ready 0 keeps min", []step{{0, 0, 1, 1}, {100, 0, 1, 1}}},
		{"a count outside the bounds is fixed at once", []step{{0, 0, 0, 1}, {1, 0, 9, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scale.New(scale.Rule{Min: 1, Max: 4, ReadyPerReplica: 10, Cooldown: 10 * time.Second})
			for _, st := range tc.steps {
				if got := s.Next(at(st.sec), st.ready, st.current); got != st.want {
					t.Fatalf("at %ds, ready %d, current %d: Next = %d; want %d", st.sec, st.ready, st.current, got, st.want)
				}
			}
		})
	}
}

func TestScalerNoCooldown(t *testing.T) {
	s := scale.New(scale.Rule{Min: 2, Max: 5, ReadyPerReplica: 1})
	now := time.Now()
	if got := s.Next(now, 5, 2); got != 5 {
		t.Fatalf("up: %d; want 5", got)
	}
	if got := s.Next(now, 0, 5); got != 2 {
		t.Fatalf("down without cooldown: %d; want 2 at once", got)
	}
}
