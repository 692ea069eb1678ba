package pgxbackend

import "testing"

// The server's major version decides whether waymark runs at all (14 and
// newer); it is read from what the server reports at connection start.
func TestMajorOf(t *testing.T) {
	for v, want := range map[string]int{
		"15.18 (Debian 15.18-0+deb12u1)": 15,
		"18.4":                           18,
		"14beta1":                        14,
		"13.20":                          13,
		"9.6.24":                         9,
		"":                               0,
		"x":                              0,
	} {
		if got := majorOf(v); got != want {
			t.Errorf("majorOf(%q) = %d, want %d", v, got, want)
		}
		if ok := majorOf(v) >= minServerVersion; ok != (want >= 14) {
			t.Errorf("%q accepted = %v", v, ok)
		}
	}
}
