package main

import "testing"

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
