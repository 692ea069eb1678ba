package source_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/source"
)

func TestParseFileName(t *testing.T) {
	tests := []struct {
		name string
		want source.FileName
		err  error
	}{
		{"v001_create_users.up.sql", source.FileName{Version: 1, Name: "create_users", Direction: source.Up, Digits: 3}, nil},
		{"v20230101120000.down.sql", source.FileName{Version: 20230101120000, Direction: source.Down, Digits: 14}, nil},
		{"V1.up.sql", source.FileName{}, source.ErrBadName},
		{"v0_zero.up.sql", source.FileName{}, source.ErrBadVersion},
	}
	for _, tt := range tests {
		got, err := source.ParseFileName(tt.name)
		if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("ParseFileName(%q) error = %v, want %v", tt.name, err, tt.err)
		}
		if err != nil && err.Error()[:len(tt.name)] != tt.name {
			t.Errorf("ParseFileName(%q) error %q does not name the file", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFileName(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}
