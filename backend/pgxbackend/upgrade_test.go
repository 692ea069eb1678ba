package pgxbackend_test

import (
	"context"
	"errors"
	"strings"
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
	if comment != "waymark history, format 4" || !hasIndex {
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

// formatTwo is the history table as waymark created it with digests,
// before repeatable scripts.
var formatTwo = []string{strings.Replace(formatOne, "dirty IN ('up', 'down')),", "dirty IN ('up', 'down')),\n\tdigest         bytea,", 1),
	"CREATE INDEX ON waymark_history (app_key) WHERE dirty IS NOT NULL",
	"COMMENT ON TABLE waymark_history IS 'waymark history, format 2'"}

// A history table of format 2 is upgraded in place, under the lock, by the
// first run of a release with repeatable scripts: the versions' records
// keep their values and digests, the index on repeatable scripts' names
// appears, and the scripts are recorded where a binary of format 2 does
// not see them.
func TestUpgradeFormatTwo(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	for _, stmt := range formatTwo {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	old := testsets.Map(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	// A run of the old format's rules (no repeatable scripts) writes
	// format-2 records; this binary writes the same for versions.
	stamp := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	m, _ := old.Lookup(1)
	d, _ := old.Digest(1)
	if _, err := pool.Exec(ctx, "INSERT INTO waymark_history VALUES ('', 1, 't', $1, $2, interval '1 second', NULL, $3)", m.Up.Checksum.String(), stamp, d[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, m.Up.SQL); err != nil {
		t.Fatal(err)
	}
	db := pgxbackend.New(pool, nil)
	if h, err := db.ReadHead(ctx); err != nil || !h.Known || h.Version != 1 || h.Digest != d || !h.Repeatables.IsZero() {
		t.Fatalf("head of a format-2 history = %+v, %v", h, err)
	}
	set := testsets.Map(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);", "r_v.sql": "CREATE OR REPLACE VIEW v AS SELECT id FROM t;"})
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if err != nil || len(res.Plan.Steps) != 1 || !res.Plan.Steps[0].Repeatable {
		t.Fatalf("Migrate = %v, %v; want the repeatable script's step only", res.Plan, err)
	}
	var comment string
	var unique bool
	if err := pool.QueryRow(ctx, `SELECT obj_description('waymark_history'::regclass, 'pg_class'),
		EXISTS (SELECT FROM pg_index WHERE indrelid = 'waymark_history'::regclass AND indisunique AND indpred IS NOT NULL)`).Scan(&comment, &unique); err != nil {
		t.Fatal(err)
	}
	if comment != "waymark history, format 4" || !unique {
		t.Errorf("after the upgrade: comment %q, unique index on names %v", comment, unique)
	}
	var kept int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM waymark_history WHERE app_key = '' AND version = 1 AND applied_at = $1 AND digest = $2", stamp, d[:]).Scan(&kept); err != nil || kept != 1 {
		t.Errorf("the old record kept its values: %d (%v)", kept, err)
	}
	// What a binary of format 2 reads, with its own query: the versions of
	// its app key, nothing of the repeatable scripts.
	rows, err := pool.Query(ctx, "SELECT version FROM waymark_history WHERE app_key = '' ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if rows.Err() != nil || len(vs) != 1 || vs[0] != 1 {
		t.Errorf("an old binary reads versions %v (%v), want [1]", vs, rows.Err())
	}
	h, err := db.ReadHead(ctx)
	if err != nil || h.Digest != d || h.Repeatables != set.RepeatablesDigest() {
		t.Errorf("head after the run = %+v, %v; want the repeatable scripts' digest %s", h, err, set.RepeatablesDigest())
	}
	// The index keeps one row per script name.
	if _, err := pool.Exec(ctx, "INSERT INTO waymark_history VALUES ('#repeatable', 9, 'v', 'x', now(), interval '0', NULL, NULL)"); err == nil {
		t.Error("a second row for the script v was accepted")
	}
}

// An app key that ends like the repeatable scripts' rows is refused.
func TestAppKeyRepeatableSuffix(t *testing.T) {
	err := pgxbackend.New(pgtest.Pool(t), &pgxbackend.Options{AppKey: "billing" + pgxbackend.RepeatableKeySuffix}).Check()
	if !errors.Is(err, backend.ErrBadOptions) || !strings.Contains(err.Error(), "Options.AppKey") {
		t.Errorf("Check = %v, want ErrBadOptions naming Options.AppKey", err)
	}
}
