package hazard_test

import (
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/source"
)

// FuzzCheck checks that no script, however odd, makes the checker panic
// or report a finding outside the script.
func FuzzCheck(f *testing.F) {
	for _, tc := range ruleCases {
		f.Add(tc.sql)
	}
	f.Add(setupTables)
	f.Add("ALTER TABLE")
	f.Add("ALTER TABLE t ALTER COLUMN")
	f.Add("ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY (")
	f.Add("CREATE INDEX ON")
	f.Add("CREATE TABLE t (a int REFERENCES")
	f.Add("ALTER TABLE t ADD COLUMN a int DEFAULT x::")
	f.Add("SELECT set_config(")
	f.Add(`CREATE TABLE "t""x" (a varchar(`)
	f.Fuzz(func(t *testing.T, sql string) {
		set, err := source.FromFS(fstest.MapFS{"m/v1_a.up.sql": {Data: []byte(sql)}}, "m")
		if err != nil {
			return
		}
		for _, v := range []int{0, 180000} {
			r, err := hazard.Check(set, &hazard.Options{ServerVersion: v})
			if err != nil {
				continue // an allow directive naming no rule
			}
			for _, f := range r.Findings() {
				if f.Pos.Path != "m/v1_a.up.sql" || f.Pos.Line < 1 || f.Pos.Offset > len(sql) {
					t.Errorf("finding at %+v in a script of %d bytes", f.Pos, len(sql))
				}
			}
		}
	})
}
