package source_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/source"
)

func TestRepeatables(t *testing.T) {
	set, err := source.FromFS(files("m", map[string]string{
		"v1_users.up.sql": "CREATE TABLE users (id int);",
		"r_b_view.sql":    "CREATE OR REPLACE VIEW b AS SELECT 1;",
		"r_a_fn.sql":      "CREATE OR REPLACE FUNCTION a() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
		"r_c_notx.sql":    "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY i ON users (id);",
		"r_d_allowed.sql": "-- waymark:allow some-rule \"a reason\"\nDROP VIEW IF EXISTS old;",
	}), "m")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range set.Repeatables() {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"a_fn", "b_view", "c_notx", "d_allowed"}, names); diff != "" {
		t.Errorf("Repeatables (-want +got):\n%s", diff)
	}
	if set.Len() != 1 || set.Latest() != 1 {
		t.Errorf("versions: %d, latest %d; want 1, 1", set.Len(), set.Latest())
	}
	r, ok := set.LookupRepeatable("c_notx")
	if !ok || !r.Script.NoTransaction || r.Script.Path != "m/r_c_notx.sql" || r.Script.Direction != source.Up {
		t.Errorf("c_notx: %+v, %v", r, ok)
	}
	if r, _ := set.LookupRepeatable("d_allowed"); len(r.Script.Allows) != 1 {
		t.Errorf("d_allowed: allows %+v", r.Script.Allows)
	}
	if _, ok := set.LookupRepeatable("nope"); ok {
		t.Error("LookupRepeatable(nope) found one")
	}
	// The digest depends on names and checksums, not on order.
	var sums []source.NamedChecksum
	for _, r := range set.Repeatables() {
		sums = append([]source.NamedChecksum{{Name: r.Name, Checksum: r.Script.Checksum}}, sums...)
	}
	if d := source.DigestRepeatables(sums); d != set.RepeatablesDigest() || d.IsZero() {
		t.Errorf("DigestRepeatables = %s, RepeatablesDigest = %s", d, set.RepeatablesDigest())
	}
	sums[0].Checksum[0] ^= 1
	if source.DigestRepeatables(sums) == set.RepeatablesDigest() {
		t.Error("a changed checksum leaves the digest the same")
	}
	if !source.DigestRepeatables(nil).IsZero() {
		t.Error("the digest of no repeatables is not zero")
	}
}

func TestRepeatablesOnly(t *testing.T) {
	set, err := source.FromFS(files(".", map[string]string{"r_v.sql": "CREATE VIEW v AS SELECT 1;"}), ".")
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 0 || len(set.Repeatables()) != 1 {
		t.Errorf("got %d versions, %d repeatables", set.Len(), len(set.Repeatables()))
	}
}

func TestBadRepeatables(t *testing.T) {
	_, err := source.FromFS(files("m", map[string]string{
		"v1_users.up.sql": "CREATE TABLE users (id int);",
		"R__view.sql":     "SELECT 1;",
		"r_.sql":          "SELECT 1;",
		"r_x.up.sql":      "SELECT 1;",
		"r_y.SQL":         "SELECT 1;",
		"r_tx.sql":        "SELECT 1;\nCOMMIT;",
		"r_bad_dir.sql":   "-- waymark:no-transactions\nSELECT 1;",
		"r_empty.sql":     "-- nothing\n",
		"r_batch.sql":     "-- waymark:no-transaction\n-- waymark:batch\nUPDATE t SET x = 1 WHERE id IN (SELECT id FROM t WHERE x IS NULL LIMIT 10);",
	}), "m")
	want := []problem{
		{Path: "m/R__view.sql", Err: source.ErrBadName},
		{Path: "m/r_.sql", Err: source.ErrBadName},
		{Path: "m/r_bad_dir.sql", Line: 1, Column: 1, Err: source.ErrDirective},
		{Path: "m/r_batch.sql", Line: 2, Column: 1, Err: source.ErrDirective},
		{Path: "m/r_empty.sql", Err: source.ErrEmpty},
		{Path: "m/r_tx.sql", Line: 2, Column: 1, Err: source.ErrTransactionControl},
		{Path: "m/r_x.up.sql", Err: source.ErrBadName},
		{Path: "m/r_y.SQL", Err: source.ErrBadName},
	}
	got := problems(t, err)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
