package execute_test

// Tests of the calls around a deploy: a saved plan checked against the
// files (Options.Files), and Migrate during a rolling deploy.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

var releaseFiles = map[string]string{
	"v1_a.up.sql":   "CREATE TABLE a (id int);\n",
	"v1_a.down.sql": "DROP TABLE a;\n",
	"v2_b.up.sql":   "CREATE TABLE b (id int);\n",
	"v2_b.down.sql": "DROP TABLE b;\n",
}

// releases returns the sets of two releases: the old one has versions 1
// and 2, the new one adds 3.
func releases(t *testing.T) (old, next *source.Set) {
	t.Helper()
	files := maps.Clone(releaseFiles)
	old = testsets.Map(t, files)
	files["v3_c.up.sql"] = "CREATE TABLE c (id int);\n"
	next = testsets.Map(t, files)
	return old, next
}

func TestRunChecksFiles(t *testing.T) {
	ctx := context.Background()
	set := testsets.Map(t, releaseFiles)
	db := memory.New(nil)
	p := mustPlan(t, db, set, plan.Latest())

	edited := maps.Clone(releaseFiles)
	edited["v2_b.up.sql"] = "CREATE TABLE b (id bigint);\n"
	now := testsets.Map(t, edited)
	res, err := execute.Run(ctx, db, p, &execute.Options{Files: now})
	if !errors.Is(err, execute.ErrBadPlan) || !errors.Is(err, plan.ErrFileChanged) {
		t.Fatalf("Run with an edited file = %v, want ErrBadPlan and plan.ErrFileChanged", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "m/v2_b.up.sql") || !strings.HasPrefix(msg, "execute: ") {
		t.Errorf("message %q does not name the file", msg)
	}
	if len(res.Steps) != 0 || len(versions(t, db)) != 0 {
		t.Errorf("Run applied %v despite the changed file", versions(t, db))
	}

	// Without Files, the saved SQL runs: the check is what notices.
	res, err = execute.Run(ctx, db, p, &execute.Options{Files: set})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, applied(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
}

func TestMigrateRollingDeploy(t *testing.T) {
	ctx := context.Background()
	old, next := releases(t)

	tests := []struct {
		name    string
		setup   func(db *memory.Backend)
		target  plan.Target
		opts    *execute.Options
		wantErr error
		warned  bool
	}{
		{"old replica after the new one migrated", func(db *memory.Backend) { migrateTo(t, db, next, plan.Latest()) },
			plan.Latest(), nil, nil, true},
		{"strict", func(db *memory.Backend) { migrateTo(t, db, next, plan.Latest()) },
			plan.Latest(), &execute.Options{RefuseNewerDatabase: true}, plan.ErrUnknownVersion, false},
		{"explicit target", func(db *memory.Backend) { migrateTo(t, db, next, plan.Latest()) },
			plan.To(2), nil, plan.ErrUnknownVersion, false},
		{"explicitly allowed, no warning", func(db *memory.Backend) { migrateTo(t, db, next, plan.Latest()) },
			plan.Latest(), &execute.Options{Plan: &plan.Options{AllowNewerDatabase: true}}, nil, false},
		{"old version not applied", func(db *memory.Backend) {
			migrateTo(t, db, next, plan.To(1))
			applyOnly(t, db, next, 3)
		}, plan.Latest(), nil, plan.ErrUnknownVersion, false},
		{"old version drifted", func(db *memory.Backend) {
			edited := maps.Clone(releaseFiles)
			edited["v2_b.up.sql"] = "CREATE TABLE b (id bigint);\n"
			edited["v3_c.up.sql"] = "CREATE TABLE c (id int);\n"
			migrateTo(t, db, testsets.Map(t, edited), plan.Latest())
		}, plan.Latest(), nil, plan.ErrDrift, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memory.New(nil)
			tt.setup(db)
			before := versions(t, db)
			var logs bytes.Buffer
			opts := &execute.Options{}
			if tt.opts != nil {
				opts = tt.opts
			}
			opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			res, err := execute.Migrate(ctx, db, old, tt.target, opts)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Migrate = %v, want %v", err, tt.wantErr)
			}
			if warned := strings.Contains(logs.String(), "level=WARN msg=\"waymark: the database is ahead"); warned != tt.warned {
				t.Errorf("warned = %v, want %v; log:\n%s", warned, tt.warned, logs.String())
			}
			if tt.warned && !strings.Contains(logs.String(), "newer=[3]") {
				t.Errorf("the warning does not name version 3:\n%s", logs.String())
			}
			if err == nil && (!res.Plan.Empty() || res.Plan.From != 3) {
				t.Errorf("plan = %v, want empty from 3", res.Plan)
			}
			if diff := cmp.Diff(before, versions(t, db)); diff != "" {
				t.Errorf("Migrate changed the history (-before +after):\n%s", diff)
			}
		})
	}
}

func migrateTo(t *testing.T, db *memory.Backend, set *source.Set, target plan.Target) {
	t.Helper()
	if _, err := execute.Migrate(context.Background(), db, set, target, nil); err != nil {
		t.Fatal(err)
	}
}

// applyOnly applies version v of set out of order.
func applyOnly(t *testing.T, db *memory.Backend, set *source.Set, v int64) {
	t.Helper()
	p := mustPlan(t, db, set, plan.To(v))
	p.Steps = p.Steps[len(p.Steps)-1:]
	if _, err := execute.Run(context.Background(), db, p, nil); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresRollingDeploy: a new release migrates; a replica of the old
// one restarts and boots with the default options.
func TestPostgresRollingDeploy(t *testing.T) {
	ctx := context.Background()
	old, next := releases(t)
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, old, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, next, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	res, err := execute.Migrate(ctx, db, old, plan.Latest(), &execute.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("old replica: %v", err)
	}
	if !res.Plan.Empty() || res.Plan.From != 3 || !strings.Contains(logs.String(), "ahead") {
		t.Errorf("old replica: plan %v, log:\n%s", res.Plan, logs.String())
	}
	checkHistory(t, pool, next, 1, 2, 3)
	if _, err := execute.Migrate(ctx, db, old, plan.Latest(), &execute.Options{RefuseNewerDatabase: true}); !errors.Is(err, plan.ErrUnknownVersion) {
		t.Errorf("strict old replica = %v, want ErrUnknownVersion", err)
	}
}

// TestPostgresRunChecksFiles: a plan saved in CI, a file edited before the
// apply step.
func TestPostgresRunChecksFiles(t *testing.T) {
	ctx := context.Background()
	set := testsets.Map(t, releaseFiles)
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := plan.Save(&saved, p, nil); err != nil {
		t.Fatal(err)
	}
	edited := maps.Clone(releaseFiles)
	edited["v1_a.up.sql"] = "CREATE TABLE a (id int, name text);\n"
	loaded, err := plan.Load(&saved, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Run(ctx, db, loaded, &execute.Options{Files: testsets.Map(t, edited)}); !errors.Is(err, plan.ErrFileChanged) {
		t.Fatalf("Run = %v, want plan.ErrFileChanged", err)
	}
	checkNoLeftovers(t, pool)
	if _, err := execute.Run(ctx, db, loaded, &execute.Options{Files: set}); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2)
}
