package hazard_test

import (
	"encoding/json"
	"testing"

	"github.com/waymarkdb/waymark/hazard"
)

func TestLockModes(t *testing.T) {
	// PostgreSQL's table of conflicting lock modes, row by row: the modes
	// each one conflicts with, as written in the documentation.
	table := map[hazard.LockMode]string{
		hazard.AccessShare:          "       X",
		hazard.RowShare:             "      XX",
		hazard.RowExclusive:         "    XXXX",
		hazard.ShareUpdateExclusive: "   XXXXX",
		hazard.Share:                "  XX XXX",
		hazard.ShareRowExclusive:    "  XXXXXX",
		hazard.Exclusive:            " XXXXXXX",
		hazard.AccessExclusive:      "XXXXXXXX",
	}
	for m, row := range table {
		for i, c := range row {
			o := hazard.LockMode(i + 1)
			if got := m.Conflicts(o); got != (c == 'X') {
				t.Errorf("%s.Conflicts(%s) = %v", m, o, got)
			}
		}
	}
	for _, tt := range []struct {
		m, o hazard.LockMode
		want bool
	}{
		{hazard.AccessExclusive, hazard.Share, true},
		{hazard.ShareRowExclusive, hazard.Share, true},
		{hazard.Share, hazard.ShareUpdateExclusive, false},
		{hazard.ShareUpdateExclusive, hazard.Share, false},
		{hazard.Share, hazard.Share, true},
		{hazard.RowShare, hazard.AccessShare, true},
		{hazard.AccessShare, hazard.RowShare, false},
	} {
		if got := tt.m.Covers(tt.o); got != tt.want {
			t.Errorf("%s.Covers(%s) = %v, want %v", tt.m, tt.o, got, tt.want)
		}
	}
	if !hazard.Share.BlocksWrites() || hazard.ShareUpdateExclusive.BlocksWrites() || !hazard.AccessExclusive.BlocksReads() || hazard.Exclusive.BlocksReads() {
		t.Error("BlocksWrites or BlocksReads disagrees with the conflict table")
	}
}

func TestLockModeText(t *testing.T) {
	for m := hazard.AccessShare; m <= hazard.AccessExclusive; m++ {
		got, err := hazard.ParseLockMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseLockMode(%q) = %v, %v", m.String(), got, err)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back hazard.LockMode
		if err := json.Unmarshal(data, &back); err != nil || back != m {
			t.Errorf("JSON round trip of %s: %s -> %v, %v", m, data, back, err)
		}
	}
	if _, err := hazard.ParseLockMode("SIReadLock"); err == nil {
		t.Error("ParseLockMode accepted a predicate lock's mode")
	}
	if _, err := json.Marshal(hazard.LockMode(0)); err == nil {
		t.Error("the zero LockMode marshals")
	}
	if hazard.ShareRowExclusive.SQL() != "SHARE ROW EXCLUSIVE" {
		t.Errorf("SQL() = %q", hazard.ShareRowExclusive.SQL())
	}
}
