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
	"github.com/waymarkdb/waymark/source"
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

// formatTwo is the history table as waymark created it before it kept down
// scripts.
const formatTwo = `CREATE TABLE waymark_history (
	app_key        text        NOT NULL,
	version        bigint      NOT NULL CHECK (version > 0),
	name           text        NOT NULL,
	checksum       text        NOT NULL,
	applied_at     timestamptz NOT NULL,
	execution_time interval    NOT NULL,
	dirty          text        CHECK (dirty IN ('up', 'down')),
	digest         bytea,
	PRIMARY KEY (app_key, version)
);
CREATE INDEX ON waymark_history (app_key) WHERE dirty IS NOT NULL;
COMMENT ON TABLE waymark_history IS 'waymark history, format 2'`

// The statements a binary of format 2 runs on the history: its read of the
// state and its insert of a record (an up step of version 9 here).
const (
	formatTwoRead = `SELECT version, name, checksum, dirty,
	(pg_catalog.date_part('epoch', applied_at) * 1000000)::bigint,
	(pg_catalog.date_part('epoch', execution_time) * 1000000)::bigint
FROM waymark_history WHERE app_key = 'old' ORDER BY version`
	formatTwoInsert = `INSERT INTO waymark_history (app_key, version, name, checksum, applied_at, execution_time, dirty, digest)
VALUES ('old', 9, 'nine', $1, pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp(), NULL,
	pg_catalog.sha256(coalesce((SELECT digest FROM waymark_history WHERE app_key = 'old' AND version < 9 ORDER BY version DESC LIMIT 1), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
	|| pg_catalog.int8send(9::bigint) || pg_catalog.decode($1, 'hex')))`
)

// A history table of format 2 is upgraded in place to format 4 (through
// format 3) by the first run that takes the lock; its records keep their
// values and no down script, the records written after keep theirs, and a
// binary of format 2 still reads and writes the table.
func TestUpgradeFormatTwo(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := testsets.Load(t, "sample")
	if _, err := pool.Exec(ctx, formatTwo); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for v := int64(1); v <= 3; v++ {
		m, _ := set.Lookup(v)
		d, _ := set.Digest(v)
		if _, err := pool.Exec(ctx, "INSERT INTO waymark_history VALUES ('', $1, $2, $3, $4, interval '2 seconds', NULL, $5)",
			v, m.Name, m.Up.Checksum.String(), stamp, d[:]); err != nil {
			t.Fatal(err)
		}
		for _, st := range m.Up.Statements {
			if _, err := pool.Exec(ctx, st.SQL); err != nil {
				t.Fatalf("setting up version %d: %v", v, err)
			}
		}
	}
	db := pgxbackend.New(pool, nil)
	// Read before the upgrade: nothing kept, nothing written.
	recs, err := db.ReadState(ctx)
	if err != nil || len(recs) != 3 || recs[0].Down != backend.DownUnknown {
		t.Fatalf("ReadState of format 2 = %+v, %v", recs, err)
	}
	if h, err := db.ReadHead(ctx); err != nil || !h.Known || h.Version != 3 {
		t.Fatalf("head of format 2 = %+v, %v", h, err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	var comment string
	var columns int
	if err := pool.QueryRow(ctx, `SELECT obj_description('waymark_history'::regclass, 'pg_class'),
		(SELECT count(*) FROM pg_attribute WHERE attrelid = 'waymark_history'::regclass AND attname IN ('reversible', 'down_script'))`).Scan(&comment, &columns); err != nil {
		t.Fatal(err)
	}
	if comment != "waymark history, format 4" || columns != 2 {
		t.Errorf("after the upgrade: comment %q, %d of the 2 new columns", comment, columns)
	}
	recs, err = db.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m4, _ := set.Lookup(4)
	for _, r := range recs {
		switch {
		case r.Version <= 3 && (r.Down != backend.DownUnknown || !r.AppliedAt.Equal(stamp) || r.Duration != 2*time.Second):
			t.Errorf("old record %d after the upgrade = %+v, want its values and nothing kept", r.Version, r)
		case r.Version == 4 && (r.Down != backend.DownKept || r.DownSQL != m4.Down.SQL):
			t.Errorf("record 4 = %v %q, want its down script kept", r.Down, r.DownSQL)
		}
	}
	want, _ := set.Digest(4)
	if h, err := db.ReadHead(ctx); err != nil || !h.Known || h.Digest != want {
		t.Errorf("head after the upgrade = %+v, %v", h, err)
	}

	// A binary of format 2, during the rolling deploy, reads and writes
	// the upgraded table as its own.
	m1, _ := set.Lookup(1)
	if _, err := pool.Exec(ctx, formatTwoInsert, m1.Up.Checksum.String()); err != nil {
		t.Fatalf("format 2's insert on format 4: %v", err)
	}
	rows, err := pool.Query(ctx, formatTwoRead)
	if err != nil {
		t.Fatalf("format 2's read on format 4: %v", err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if rows.Close(); rows.Err() != nil || n != 1 {
		t.Errorf("format 2's read found %d records (%v), want 1", n, rows.Err())
	}
	old, err := pgxbackend.New(pool, &pgxbackend.Options{AppKey: "old"}).ReadState(ctx)
	if err != nil || len(old) != 1 || old[0].Down != backend.DownUnknown {
		t.Errorf("format 2's record read by format 4 = %+v, %v; want it with nothing kept", old, err)
	}
}

// formatThree is the history table as waymark created it with down
// scripts, before repeatable scripts.
var formatThree = strings.NewReplacer("\tdigest         bytea,", "\tdigest         bytea,\n\treversible     boolean,\n\tdown_script    text,",
	"format 2", "format 3").Replace(formatTwo)

// A history table of format 2 or 3 is upgraded in place, under the lock,
// by the first run of a release with repeatable scripts: the versions'
// records keep their values and digests, the index on repeatable scripts'
// names appears, and the scripts are recorded where a binary of format 2
// or 3 does not see them.
func TestUpgradeRepeatables(t *testing.T) {
	for _, tc := range []struct{ name, ddl string }{{"format 2", formatTwo}, {"format 3", formatThree}} {
		t.Run(tc.name, func(t *testing.T) { testUpgradeRepeatables(t, tc.ddl) })
	}
}

func testUpgradeRepeatables(t *testing.T, ddl string) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	old := testsets.Map(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	// A run of the old format's rules (no repeatable scripts) writes
	// such records; this binary writes the same for versions.
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
		t.Fatalf("head of an older history = %+v, %v", h, err)
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
	// What an older binary reads, with its own query: the versions of
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

// Reading the state inside a transaction Begin opened, on a table of an
// older format, does not upgrade it there: the upgrade is a transaction of
// its own, and would commit (or roll back) the caller's. The rollback
// still undoes the transaction's step, and the next read outside it
// upgrades the table.
func TestNoUpgradeInsideATransaction(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, formatTwo); err != nil {
		t.Fatal(err)
	}
	s, err := pgxbackend.New(pool, nil).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(ctx)
	if err := s.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	insert := backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Name: "one", Checksum: source.ChecksumOf("CREATE TABLE inside_tx (id int);")}}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE inside_tx (id int);", Change: insert}); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.ReadState(ctx); err != nil || len(recs) != 1 {
		t.Fatalf("ReadState in the transaction = %+v, %v; want the step's record", recs, err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var exists bool
	var comment string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('inside_tx') IS NOT NULL, obj_description('waymark_history'::regclass)").Scan(&exists, &comment); err != nil {
		t.Fatal(err)
	}
	if exists || comment != "waymark history, format 2" {
		t.Errorf("after the rollback: inside_tx exists %v, history %q; want the step undone and the table untouched", exists, comment)
	}
	if _, err := s.ReadState(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT obj_description('waymark_history'::regclass)").Scan(&comment); err != nil || !strings.HasSuffix(comment, "format 4") {
		t.Errorf("after a read outside the transaction the history is %q, %v; want format 4", comment, err)
	}
}
