package review_test

import (
	"slices"
	"testing"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
)

// TestNotAvailable checks the not-available rule against the server the
// tests run on: a statement gets the finding exactly when the server
// refuses it, and then no other finding.
func TestNotAvailable(t *testing.T) {
	t.Parallel()
	const base = `CREATE TABLE orders (id int PRIMARY KEY, user_id int, total int, cents int GENERATED ALWAYS AS (total * 100) STORED);
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`
	cases := []struct {
		name, sql string
		noTx      bool
	}{
		{"check not enforced", "ALTER TABLE orders ADD CONSTRAINT total_ok CHECK (total >= 0) NOT ENFORCED;", false},
		{"not null not valid", "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id NOT VALID;", false},
		{"set expression", "ALTER TABLE orders ALTER COLUMN cents SET EXPRESSION AS (total * 1000);", false},
		{"virtual generated column", "ALTER TABLE orders ADD COLUMN c2 int GENERATED ALWAYS AS (total * 2) VIRTUAL;", false},
		{"create index concurrently on a partitioned table", "CREATE INDEX CONCURRENTLY events_id_idx ON events (id);", true},
		{"a plain column", "ALTER TABLE orders ADD COLUMN note text;", false},
	}
	version := serverVersion(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script := "SET LOCAL lock_timeout = '5s';\n" + tc.sql
			if tc.noTx {
				script = "-- waymark:no-transaction\n" + tc.sql
			}
			set := testsets.Map(t, map[string]string{"v1_base.up.sql": base, "v2_case.up.sql": script})
			r, err := hazard.Check(set, &hazard.Options{ServerVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			sts := r.Scripts[1].Statements
			var rules []string
			for _, f := range sts[len(sts)-1].Findings {
				rules = append(rules, f.Rule)
			}
			predicted := slices.Contains(rules, hazard.RuleNotAvailable)
			if predicted && len(rules) != 1 {
				t.Errorf("findings %v: want not-available alone", rules)
			}

			conn := pgtest.Conn(t)
			if _, err := conn.Exec(t.Context(), base); err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(t.Context(), tc.sql)
			if refused := err != nil; refused != predicted {
				t.Errorf("on PostgreSQL %d the server refuses it: %v (%v); the rules predict it: %v (findings %v)", version/10000, refused, err, predicted, rules)
			}
		})
	}
}
