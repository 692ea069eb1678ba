package pgxbackend_test

import (
	"context"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// formatOne is the history table as waymark created it before digests.
const formatOne = `CREATE TABLE waymark_history (
	app_key        text        NOT NULL,
	version        bigint      NOT NULL CHECK (version > 0),
	name           text        NOT NULL,
	checksum       text        NOT NULL,
	applied_at     timestamptz NOT NULL,
	execution_time interval    NOT NULL,
	dirty          text        CHECK (dirty IN ('up', 'down')),
	PRIMARY KEY (app_key, version)
)`

// A history table of format 1 is upgraded in place by the first run that
// takes the lock: every record of every app key keeps its values and gets
// its digest, and the next no-op reads one row.
func TestUpgradeFormatOne(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := testsets.Load(t, "sample")
	if _, err := pool.Exec(ctx, formatOne); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, key := range []string{"", "other"} {
		for v := int64(1); v <= 3; v++ {
			m, _ := set.Lookup(v)
			if _, err := pool.Exec(ctx, "INSERT INTO waymark_history VALUES ($1, $2, $3, $4, $5, interval '2 seconds', NULL)",
				key, v, m.Name, m.Up.Checksum.String(), stamp); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The old objects the tables need, as the old run made them.
	for v := int64(1); v <= 3; v++ {
		m, _ := set.Lookup(v)
		for _, st := range m.Up.Statements {
			if _, err := pool.Exec(ctx, st.SQL); err != nil {
				t.Fatalf("setting up version %d: %v", v, err)
			}
		}
	}
	db := pgxbackend.New(pool, nil)
	if h, err := db.ReadHead(ctx); err != nil || h.Known {
		t.Fatalf("head of a format-1 history = %+v, %v; want not Known", h, err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	var comment string
	var hasIndex bool
	if err := pool.QueryRow(ctx, `SELECT obj_description('waymark_history'::regclass, 'pg_class'),
		EXISTS (SELECT FROM pg_index WHERE indrelid = 'waymark_history'::regclass AND indpred IS NOT NULL)`).Scan(&comment, &hasIndex); err != nil {
		t.Fatal(err)
	}
	if comment != "waymark history, format 2" || !hasIndex {
		t.Errorf("after the upgrade: comment %q, partial index %v", comment, hasIndex)
	}
	var kept int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM waymark_history WHERE version <= 3 AND applied_at = $1 AND execution_time = interval '2 seconds'", stamp).Scan(&kept); err != nil || kept != 6 {
		t.Errorf("%d of the 6 old records kept their values (%v)", kept, err)
	}
	for key, upTo := range map[string]int64{"": 4, "other": 3} {
		h, err := pgxbackend.New(pool, &pgxbackend.Options{AppKey: key}).ReadHead(ctx)
		want, _ := set.Digest(upTo)
		if err != nil || !h.Known || h.Version != upTo || h.Digest != want {
			t.Errorf("app key %q: head = %+v, %v; want version %d with digest %s", key, h, err, upTo, want)
		}
	}
	// A record inserted below the top brings the digests above it up to
	// date (an out-of-order version).
	s, err := pgxbackend.New(pool, &pgxbackend.Options{AppKey: "other"}).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m4, _ := set.Lookup(4)
	if err := s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Delete, Record: backend.Record{Version: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 4, Name: m4.Name, Checksum: m4.Up.Checksum}}}); err != nil {
		t.Fatal(err)
	}
	m2, _ := set.Lookup(2)
	if err := s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 2, Name: m2.Name, Checksum: m2.Up.Checksum}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := pgxbackend.New(pool, &pgxbackend.Options{AppKey: "other"}).ReadHead(ctx)
	want, _ := set.Digest(4)
	if err != nil || h.Digest != want {
		t.Errorf("after an insert below the top: head %+v, want digest %s", h, want)
	}
}
