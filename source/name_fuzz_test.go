package source

import (
	"math/big"
	"regexp"
	"testing"
)

// nameOracle is the grammar of the package doc, written independently of
// parseName as a regular expression: v, the version digits, an optional
// "_" and name, and the direction.
var nameOracle = regexp.MustCompile(`^v([0-9]+)(?:_([A-Za-z0-9_-]+))?\.(up|down)\.sql$`)

// FuzzParseName checks parseName against nameOracle: it must accept exactly
// the names the grammar accepts whose version is in 1..2^63-1, read them the
// same way, and fail with ErrBadName or ErrBadVersion otherwise. It must
// never panic.
func FuzzParseName(f *testing.F) {
	for _, seed := range []string{
		"v1.up.sql", "v001_create_users.down.sql", "v20230101120000_c.up.sql", "v9223372036854775807.up.sql",
		"v9223372036854775808.up.sql", "v0.up.sql", "V1.up.sql", "v1.UP.sql", "1.up.sql", "v1.sql", "v1.up.sql.sql",
		"v1_.up.sql", "v_x.up.sql", "v1_a-b_C9.up.sql", "v1_é.up.sql", "v1_a.b.up.sql", "v.up.sql", "v1__x.down.sql",
		"v+1.up.sql", "v-1.up.sql", "v1 .up.sql", "v\x001.up.sql", "v1.up.sql\x00", "", ".sql", "v6-bad.up.sql",
		"v1_x.up.up.sql", "v00.down.sql",
	} {
		f.Add(seed)
	}
	maxVersion := big.NewInt(1<<63 - 1)
	f.Fuzz(func(t *testing.T, name string) {
		got, err := parseName(name)
		m := nameOracle.FindStringSubmatch(name)
		var version *big.Int
		if m != nil {
			version, _ = new(big.Int).SetString(m[1], 10)
		}
		switch {
		case m == nil:
			if err == nil || err.Err != ErrBadName {
				t.Fatalf("parseName(%q) = %+v, %v; the grammar refuses it, want ErrBadName", name, got, err)
			}
		case version.Sign() == 0 || version.Cmp(maxVersion) > 0:
			if err == nil || err.Err != ErrBadVersion {
				t.Fatalf("parseName(%q) = %+v, %v; version %s is out of range, want ErrBadVersion", name, got, err, version)
			}
		default:
			if err != nil {
				t.Fatalf("parseName(%q) failed with %v; the grammar accepts it", name, err)
			}
			want := fileName{version: version.Int64(), name: m[2], stem: name[:len(name)-len("."+m[3]+".sql")], direction: Up}
			if m[3] == "down" {
				want.direction = Down
			}
			if got != want {
				t.Fatalf("parseName(%q) = %+v, want %+v", name, got, want)
			}
		}
	})
}
