package convert_test

import (
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/source"
)

func TestFlyway(t *testing.T) {
	fsys := fstest.MapFS{
		"db/V1__create_users.sql":      {Data: []byte("CREATE TABLE users (id int);\n")},
		"db/U1__drop_users.sql":        {Data: []byte("DROP TABLE users;\n")},
		"db/V2__email.sql":             {Data: []byte("ALTER TABLE users ADD COLUMN email text;\n")},
		"db/sub/V10__index.sql":        {Data: []byte("CREATE INDEX CONCURRENTLY users_email ON users (email);\n")},
		"db/V3__conf.sql":              {Data: []byte("VACUUM users;\n")},
		"db/V3__conf.sql.conf":         {Data: []byte("executeInTransaction=false\n")},
		"db/R__active_users.sql":       {Data: []byte("CREATE OR REPLACE VIEW active_users AS SELECT id FROM users;\n")},
		"db/V4__placeholder.sql":       {Data: []byte("GRANT SELECT ON users TO ${reader};\n")},
		"db/afterMigrate.sql":          {Data: []byte("ANALYZE;\n")},
		"db/B5__baseline.sql":          {Data: []byte("SELECT 1;\n")},
		"db/readme.md":                 {Data: []byte("notes\n")},
		"db/v6__lower_case_prefix.sql": {Data: []byte("SELECT 1;\n")},
	}
	res, err := convert.Convert(fsys, "db", convert.Flyway, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range res.Files() {
		names = append(names, f.Name)
	}
	want := []string{"v1_create_users.up.sql", "v1_create_users.down.sql", "v2_email.up.sql", "v3_conf.up.sql", "v10_index.up.sql", "r_active_users.sql"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var sources []string
	for _, m := range res.Migrations {
		sources = append(sources, m.SourceVersion)
	}
	if diff := cmp.Diff([]string{"1", "2", "3", "4", "10"}, sources); diff != "" {
		t.Errorf("source versions (-want +got):\n%s", diff)
	}
	m, _ := res.Lookup("3")
	if !m.Up.NoTransaction {
		t.Error("V3 with executeInTransaction=false is not a no-transaction script")
	}
	if m, _ := res.Lookup("10"); !m.Up.NoTransaction || m.Down != nil {
		t.Errorf("V10: %+v", m)
	}
	if m, _ := res.Lookup("4"); m.Up != nil {
		t.Error("V4 with a placeholder was converted")
	}
	rep, ok := res.LookupRepeatable("active users")
	if !ok || rep.File.SQL != "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users;\n" || rep.FlywayChecksum != convert.FlywayChecksum(rep.File.SQL) {
		t.Errorf("repeatable: %+v, %v", rep, ok)
	}
	var unconverted []string
	for _, s := range res.Unconverted {
		unconverted = append(unconverted, s.Path)
	}
	if diff := cmp.Diff([]string{"db/B5__baseline.sql", "db/V4__placeholder.sql", "db/afterMigrate.sql", "db/v6__lower_case_prefix.sql"}, unconverted); diff != "" {
		t.Errorf("unconverted (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.String(), "1 repeatable script") {
		t.Errorf("report:\n%s", res)
	}
	// The converted files load as a waymark set.
	out := fstest.MapFS{}
	for _, f := range res.Files() {
		out[f.Name] = &fstest.MapFile{Data: []byte(f.SQL)}
	}
	set, err := source.FromFS(out, ".")
	if err != nil || len(set.Repeatables()) != 1 || set.Latest() != 10 {
		t.Errorf("converted set: %v", err)
	}
}

func TestFlywayDottedVersionsRenumbered(t *testing.T) {
	fsys := fstest.MapFS{
		"V1__a.sql":    {Data: []byte("SELECT 1;")},
		"V1.10__c.sql": {Data: []byte("SELECT 3;")},
		"V1_2__b.sql":  {Data: []byte("SELECT 2;")},
		"V2__d.sql":    {Data: []byte("SELECT 4;")},
	}
	res, err := convert.Convert(fsys, ".", convert.Flyway, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Migrations {
		got = append(got, m.SourceVersion+" "+m.Up.Name)
	}
	want := []string{"1 v0001_1_a.up.sql", "1.2 v0002_1_2_b.up.sql", "1.10 v0003_1_10_c.up.sql", "2 v0004_2_d.up.sql"}
	if diff := cmp.Diff(want, got); diff != "" || !res.Renumbered {
		t.Errorf("renumbered %v (-want +got):\n%s", res.Renumbered, diff)
	}
}

func TestFlywayRefusals(t *testing.T) {
	fsys := fstest.MapFS{
		"V1__a.sql":   {Data: []byte("SELECT 1;")},
		"V001__b.sql": {Data: []byte("SELECT 1;")},
		"U7__c.sql":   {Data: []byte("SELECT 1;")},
		"R__v.sql":    {Data: []byte("SELECT 1;")},
		"x/R__v.sql":  {Data: []byte("SELECT 2;")},
	}
	_, err := convert.Convert(fsys, ".", convert.Flyway, nil)
	var list source.ErrorList
	if !errors.As(err, &list) || len(list) != 3 || !errors.Is(err, convert.ErrLayout) {
		t.Fatalf("err = %v; want three layout problems", err)
	}
	for _, want := range []string{"version 1 is also", "undo script of version 7", `repeatable migration "v" is also`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err lacks %q:\n%v", want, err)
		}
	}
}

func TestFlywayVersionAndChecksum(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "001": "1", "1.0": "1", "1_1": "1.1", "1.01.0": "1.1", "0": "0", "2.0.10": "2.0.10", "x": "", "": ""} {
		if got := convert.FlywayVersion(in); got != want {
			t.Errorf("FlywayVersion(%q) = %q, want %q", in, got, want)
		}
	}
	// Lines are fed without their line breaks, whatever they are.
	want := int32(crc32.ChecksumIEEE([]byte("SELECT 1;SELECT 2;")))
	for _, text := range []string{"SELECT 1;\nSELECT 2;\n", "\uFEFFSELECT 1;\r\nSELECT 2;", "SELECT 1;\rSELECT 2;\n\n"} {
		if got := convert.FlywayChecksum(text); got != want {
			t.Errorf("FlywayChecksum(%q) = %d, want %d", text, got, want)
		}
	}
}
