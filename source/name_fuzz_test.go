package source

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseName checks that parseName never panics, accepts only names of
// the documented grammar, and reads them back exactly.
func FuzzParseName(f *testing.F) {
	for _, seed := range []string{
		"v1.up.sql", "v001_create_users.down.sql", "v20230101120000_c.up.sql", "v9223372036854775807.up.sql",
		"v9223372036854775808.up.sql", "v0.up.sql", "V1.up.sql", "v1.UP.sql", "1.up.sql", "v1.sql", "v1.up.sql.sql",
		"v1_.up.sql", "v_x.up.sql", "v1_a-b_C9.up.sql", "v1_é.up.sql", "v1_a.b.up.sql", "v.up.sql", "v1__x.down.sql",
		"v+1.up.sql", "v-1.up.sql", "v1 .up.sql", "v\x001.up.sql", "v1.up.sql\x00", "", ".sql",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := parseName(name)
		if err != nil {
			if err.Err != ErrBadName && err.Err != ErrBadVersion {
				t.Fatalf("parseName(%q) failed with %v, want ErrBadName or ErrBadVersion", name, err.Err)
			}
			return
		}
		if got.stem+"."+got.direction.String()+".sql" != name {
			t.Fatalf("parseName(%q): stem %q and direction %v do not make the name", name, got.stem, got.direction)
		}
		digits, words, hasWords := strings.Cut(got.stem[1:], "_")
		if v, perr := strconv.ParseInt(digits, 10, 64); perr != nil || v != got.version || v <= 0 || got.stem[0] != 'v' {
			t.Fatalf("parseName(%q) = version %d from digits %q", name, got.version, digits)
		}
		if strings.TrimLeft(digits, "0123456789") != "" || digits[0] == '+' {
			t.Fatalf("parseName(%q) accepted non-digits %q", name, digits)
		}
		if hasWords != (got.name != "") || words != got.name || !all(words, isWordChar) {
			t.Fatalf("parseName(%q) = name %q", name, got.name)
		}
	})
}
