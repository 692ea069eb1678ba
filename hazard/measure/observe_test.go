package measure_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// observedCases are statements that refuse a transaction block, after a
// base with partitions and indexes; each is measured ten times.
const observedBase = base + `CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX events_id_idx ON events (id);
INSERT INTO events SELECT g, DATE '2024-01-01' + g % 700 FROM generate_series(1, 500) g;
`

// TestObservedIsDeterministic checks that a statement outside a
// transaction block gives the same measurement every time: its locks
// (the first one is made to wait, so it is always seen; those that only
// drop a relation are known from the drop; index locks no stronger than
// their table's are folded into it), rewrites and drops.
func TestObservedIsDeterministic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, sql string
		want      []string // lines of Facts that must be there
	}{
		{"vacuum", "VACUUM orders;", []string{"locks (seen while it ran): ShareUpdateExclusiveLock on orders"}},
		{"vacuum of a table with a TOAST table", "VACUUM (ANALYZE) users;", []string{"locks (seen while it ran): ShareUpdateExclusiveLock on users"}},
		{"create index concurrently", "CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);", []string{"locks (seen while it ran): ShareUpdateExclusiveLock on orders"}},
		{"drop index concurrently", "DROP INDEX CONCURRENTLY orders_status_idx;",
			[]string{"locks (seen while it ran): AccessExclusiveLock on orders_status_idx (index of orders), ShareUpdateExclusiveLock on orders"}},
		{"reindex concurrently", "REINDEX INDEX CONCURRENTLY orders_status_idx;",
			[]string{"rewrites: orders_status_idx"}},
		{"detach partition concurrently", "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var first string
			for i := range 10 {
				st := statement2(t, observedBase, "-- waymark:no-transaction\n"+tc.sql)
				if !st.Observed {
					t.Fatalf("%s was not observed: %+v", tc.sql, st)
				}
				facts := strings.Join(st.Facts(), "\n")
				locks, _ := json.Marshal(st.Locks)
				got := facts + "\n" + string(locks)
				if i == 0 {
					first = got
					for _, w := range tc.want {
						if !strings.Contains(facts, w) {
							t.Errorf("%s: facts\n%s\nlack %q", tc.sql, facts, w)
						}
					}
					continue
				}
				if diff := cmp.Diff(first, got); diff != "" {
					t.Fatalf("%s: run %d differs from run 1 (-first +now):\n%s", tc.sql, i+1, diff)
				}
			}
			t.Logf("%s:\n%s", tc.sql, first)
		})
	}
}
