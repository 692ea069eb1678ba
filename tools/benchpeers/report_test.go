package main

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},      // unsorted
		{[]float64{4, 1, 3, 2}, 2.5}, // even: the mean of the middle two
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestOver checks that ratios are taken within a repetition, then their
// median: a slow repetition for both tools does not skew it.
func TestOver(t *testing.T) {
	r := &runner{times: map[key][]float64{
		{rowWaymark, w1}: {2, 20, 3},
		{rowFloor, w1}:   {1, 10, 2},
		{rowGoose, w1}:   {1, 2},
	}}
	if got, ok := r.ratio(rowWaymark, w1); !ok || got != 2 {
		t.Errorf("ratio = %v, %v; want 2, true", got, ok)
	}
	if _, ok := r.ratio(rowGoose, w1); ok {
		t.Error("ratio over a different number of repetitions: ok, want not ok")
	}
	if _, ok := r.ratio(rowTern, w1); ok {
		t.Error("ratio of a row not measured: ok, want not ok")
	}
}

// TestTargetCounts checks that the targets name a round-trip regression
// and give the server's CPU time against the floor's.
func TestTargetCounts(t *testing.T) {
	r := &runner{times: map[key][]float64{}, counts: map[key]tally{
		{rowWaymark, w1}:     {roundTrips: 1.01, serverCPU: 400},
		{rowFloor, w1}:       {roundTrips: 1, serverCPU: 200},
		{rowWaymark, w3warm}: {roundTrips: 1.004, serverCPU: 30},
		{rowWaymark, w2down}: {roundTrips: 2.01, serverCPU: -1},
	}}
	var w1Line, w2Line, warmLine string
	for _, line := range r.targets() {
		switch {
		case strings.HasPrefix(line, "W1, waymark round trips"):
			w1Line = line
		case strings.HasPrefix(line, "W2down, waymark round trips"):
			w2Line = line
		case strings.HasPrefix(line, "W3warm, waymark round trips"):
			warmLine = line
		}
	}
	if !strings.HasSuffix(w1Line, "met; server CPU 400 µs, 2.00× the floor's") {
		t.Errorf("W1 line = %q", w1Line)
	}
	if !strings.Contains(warmLine, "1.00 (target ≤ 1.00): met") {
		t.Errorf("W3warm line = %q", warmLine)
	}
	if !strings.HasSuffix(w2Line, "2.01 (target ≤ 1.02): MISSED") {
		t.Errorf("W2down line = %q", w2Line)
	}
}
