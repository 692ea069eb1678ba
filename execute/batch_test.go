package execute_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/status"
)

// backfillFiles makes a table of rows and a version that backfills it in
// batches of size, with the directive's options opts.
func backfillFiles(rows, size int, opts string) map[string]string {
	return map[string]string{
		"v1_big.up.sql": fmt.Sprintf("CREATE TABLE big (id int PRIMARY KEY, a int NOT NULL, b int);\n"+
			"INSERT INTO big SELECT g, g, NULL FROM generate_series(1, %d) g;\n", rows),
		"v2_backfill.up.sql": fmt.Sprintf(`-- waymark:no-transaction
-- Each run fills the next %[1]d rows whose b is still NULL, so a run
-- stopped part-way carries on where it stopped.
-- waymark:batch%[2]s
UPDATE big SET b = a
 WHERE id IN (SELECT id FROM big WHERE b IS NULL ORDER BY id LIMIT %[1]d);
`, size, opts),
	}
}

// batches collects the batch events of a run.
type batches struct {
	mu     sync.Mutex
	events []execute.Batch
	on     func(execute.Batch)
}

func (b *batches) progress(e execute.Event) {
	if e.Batch == nil {
		return
	}
	b.mu.Lock()
	b.events = append(b.events, *e.Batch)
	b.mu.Unlock()
	if b.on != nil {
		b.on(*e.Batch)
	}
}

func (b *batches) rows() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.events) == 0 {
		return 0
	}
	return b.events[len(b.events)-1].Total
}

func filled(t *testing.T, pool *pgxpool.Pool) (done, todo int) {
	t.Helper()
	if err := pool.QueryRow(t.Context(), "SELECT count(b), count(*) - count(b) FROM big").Scan(&done, &todo); err != nil {
		t.Fatal(err)
	}
	return done, todo
}

func TestPostgresBatchBackfill(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := t.Context()
	db := pgxbackend.New(pool, nil)
	set := testsets.Map(t, backfillFiles(10000, 1000, " pause=1ms"))
	var log bytes.Buffer
	var got batches
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{Progress: got.progress,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 2 {
		t.Fatalf("applied %v", applied(res))
	}
	if len(got.events) != 11 {
		t.Fatalf("%d batches, want 10 of 1000 rows and a last one of 0: %+v", len(got.events), got.events)
	}
	for i, b := range got.events {
		want := int64(1000)
		if i == 10 {
			want = 0
		}
		if b.N != i+1 || b.Statement != 1 || b.Rows != want || b.Total != int64(1000*min(i+1, 10)) {
			t.Errorf("batch %d = %+v, want %d rows", i+1, b, want)
		}
	}
	if done, todo := filled(t, pool); done != 10000 || todo != 0 {
		t.Errorf("%d rows filled, %d not; want all 10000", done, todo)
	}
	// Each batch committed in a transaction of its own.
	var txs int
	if err := pool.QueryRow(ctx, "SELECT count(DISTINCT xmin::text) FROM big").Scan(&txs); err != nil {
		t.Fatal(err)
	}
	if txs != 10 {
		t.Errorf("the rows were written by %d transactions, want 10 (one per batch)", txs)
	}
	if n := strings.Count(log.String(), `msg="waymark: batch"`); n != 11 || !strings.Contains(log.String(), "rows=1000 total=10000") {
		t.Errorf("the log has %d batch records, want 11 with the running total:\n%s", n, log.String())
	}
	checkClean(t, db, 2)
}

// checkClean checks that the history has versions 1..n, none dirty.
func checkClean(t *testing.T, db backend.Backend, n int64) {
	t.Helper()
	recs, err := db.ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(recs)) != n {
		t.Fatalf("history %+v, want versions 1 to %d", recs, n)
	}
	for _, r := range recs {
		if r.Dirty != 0 {
			t.Errorf("version %d is dirty", r.Version)
		}
	}
}

// TestPostgresBatchResumes: a batch step stopped part-way (its context
// cancelled, its connection killed) leaves its version dirty with the
// batches that committed, is shown as dirty and resumable, and the next
// run carries on where it stopped.
func TestPostgresBatchResumes(t *testing.T) {
	for _, how := range []string{"cancelled", "connection killed"} {
		t.Run(how, func(t *testing.T) {
			pool := pgtest.Pool(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			db := pgxbackend.New(pool, nil)
			set := testsets.Map(t, backfillFiles(5000, 500, ""))
			first := batches{on: func(b execute.Batch) {
				if b.N != 3 {
					return
				}
				if how == "cancelled" {
					cancel()
					return
				}
				// Kill the session that holds the migration lock.
				if _, err := pool.Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"); err != nil {
					t.Error(err)
				}
			}}
			_, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{Progress: first.progress})
			var se *execute.StepError
			if !errors.As(err, &se) || !se.Dirty || !se.Resumable || !strings.Contains(err.Error(), "run again, and the step resumes where it stopped") {
				t.Fatalf("Migrate = %v, want a resumable StepError", err)
			}
			done, _ := filled(t, pool)
			if done != 1500 || first.rows() != 1500 {
				t.Fatalf("after the interruption %d rows are filled and %d reported; want the 3 batches that committed, 1500", done, first.rows())
			}

			rep, err := status.Read(t.Context(), db, set, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Entries[1].State != status.Dirty || rep.Err != nil {
				t.Errorf("status: version 2 %v, refusal %v; want dirty and no refusal", rep.Entries[1].State, rep.Err)
			}
			p, err := plan.Build(t.Context(), db, set, plan.Latest(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Steps) != 1 || !p.Steps[0].Resume || !strings.Contains(p.Review(), "RESUME: an earlier run stopped part-way") {
				t.Fatalf("plan after the interruption:\n%s", p.Review())
			}

			var second batches
			waitCtx, stop := context.WithTimeout(t.Context(), 30*time.Second)
			defer stop()
			if _, err := execute.Run(waitCtx, db, p, &execute.Options{Progress: second.progress}); err != nil {
				t.Fatal(err)
			}
			if second.rows() != 3500 || second.events[0].Rows != 500 {
				t.Errorf("the resumed run filled %d rows (first batch %+v), want the 3500 left", second.rows(), second.events[0])
			}
			if done, todo := filled(t, pool); done != 5000 || todo != 0 {
				t.Errorf("%d rows filled, %d not", done, todo)
			}
			checkClean(t, db, 2)
		})
	}
}

// TestPostgresBatchKilled: the process running a batch step is killed
// (SIGKILL); the next run resumes the backfill.
func TestPostgresBatchKilled(t *testing.T) {
	url := pgtest.ConnString(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	own, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	files := backfillFiles(20000, 200, " pause=20ms")
	c := startChild(t, childSpec{URL: url, Dir: writeSet(t, files), Lock: "advisory", Timeout: time.Minute})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done int
		err := own.QueryRow(t.Context(), "SELECT count(b) FROM big").Scan(&done)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P01") {
			t.Fatal(err)
		}
		if done >= 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child filled too few rows in 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
	// The server finishes the batch it was running when the client died
	// (it may commit it), then ends the session and its lock.
	for {
		var locks int
		if err := own.QueryRow(t.Context(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").Scan(&locks); err != nil {
			t.Fatal(err)
		}
		if locks == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed child's session still holds the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var before int
	if err := own.QueryRow(t.Context(), "SELECT count(b) FROM big").Scan(&before); err != nil {
		t.Fatal(err)
	}
	if before%200 != 0 || before >= 20000 {
		t.Fatalf("%d rows filled when the child was killed: want whole batches, not all", before)
	}
	db := pgxbackend.New(own, nil)
	set := testsets.Map(t, files)
	var again batches
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{Progress: again.progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 1 || !res.Plan.Steps[0].Resume {
		t.Errorf("the run after the kill ran %+v, want version 2 resumed", res.Plan.Steps)
	}
	if again.rows() != int64(20000-before) {
		t.Errorf("the resumed run filled %d rows, want the %d left", again.rows(), 20000-before)
	}
	checkClean(t, db, 2)
	t.Logf("killed after %d rows; resumed and filled %d in %d batches", before, again.rows(), len(again.events))
}

// TestPostgresBatchLockTimeout: each batch runs within the directive's
// lock timeout, and gives up when a table it needs stays locked.
func TestPostgresBatchLockTimeout(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := t.Context()
	db := pgxbackend.New(pool, nil)
	set := testsets.Map(t, backfillFiles(1000, 100, " lock-timeout=200ms"))
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE big IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = execute.Migrate(ctx, db, set, plan.Latest(), nil)
	took := time.Since(start)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("Migrate behind a lock = %v, want lock_timeout (55P03)", err)
	}
	if took > 10*time.Second {
		t.Errorf("the batch waited %v for the lock, want about 200ms", took)
	}
	tx.Rollback(ctx)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatalf("the run after the lock was released = %v, want it to resume", err)
	}
	checkClean(t, db, 2)
}

// TestPostgresBatchThroughPgBouncer: behind a transaction-mode pooler (a
// lease), each batch carries its fence and its limits in its own
// transaction, whichever server connection runs it.
func TestPostgresBatchThroughPgBouncer(t *testing.T) {
	pool := poolFor(t, pgtest.Bouncer(t, "transaction"))
	db := pgxbackend.New(pool, nil)
	set := testsets.Map(t, backfillFiles(3000, 500, " lock-timeout=5s statement-timeout=30s"))
	var got batches
	if _, err := execute.Migrate(t.Context(), db, set, plan.Latest(), &execute.Options{Progress: got.progress}); err != nil {
		t.Fatal(err)
	}
	if len(got.events) != 7 || got.rows() != 3000 {
		t.Errorf("%d batches filled %d rows, want 7 and 3000", len(got.events), got.rows())
	}
	if done, todo := filled(t, pool); done != 3000 || todo != 0 {
		t.Errorf("%d rows filled, %d not", done, todo)
	}
	checkClean(t, db, 2)
}

// TestPostgresBatchFailsAtItsLine: a batch that fails is reported at its
// place in the file, after the batches that committed, as resumable.
func TestPostgresBatchFailsAtItsLine(t *testing.T) {
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	files := backfillFiles(1000, 100, "")
	files["v2_backfill.up.sql"] = `-- waymark:no-transaction
-- waymark:batch
UPDATE big SET b = a / (a - 750)
 WHERE id IN (SELECT id FROM big WHERE b IS NULL ORDER BY id LIMIT 100);
`
	set := testsets.Map(t, files)
	_, err := execute.Migrate(t.Context(), db, set, plan.Latest(), nil)
	var se *execute.StepError
	var pgErr *pgconn.PgError
	if !errors.As(err, &se) || !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Fatalf("Migrate = %v, want the statement's division by zero", err)
	}
	if se.Pos.Line != 3 || se.Pos.Column != 1 || !se.Resumable || errors.Is(err, backend.ErrLockLost) {
		t.Errorf("error at %v (resumable %v): %v; want m/v2_backfill.up.sql:3:1 (the statement: the server gives no position), resumable", se.Pos, se.Resumable, err)
	}
	if done, _ := filled(t, pool); done != 700 {
		t.Errorf("%d rows filled, want the 7 batches before the failing one", done)
	}
}

// TestBatchNeedsARowCounter: a backend whose session cannot count rows
// refuses a plan with batches before anything runs.
func TestBatchNeedsARowCounter(t *testing.T) {
	db := memory.New(nil)
	set := testsets.Map(t, backfillFiles(10, 5, ""))
	res, err := execute.Migrate(t.Context(), db, set, plan.Latest(), nil)
	if !errors.Is(err, execute.ErrBadPlan) || !strings.Contains(err.Error(), "RowCounter") || len(res.Steps) != 0 {
		t.Fatalf("Migrate on a backend without RowCounter = %v (applied %v), want ErrBadPlan before anything", err, applied(res))
	}
	if vs := versions(t, db); len(vs) != 0 {
		t.Errorf("history %v, want nothing recorded", vs)
	}
}
