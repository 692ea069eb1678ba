package execute_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// versionsOnly is a backend that records versions only: it hides the
// memory backend's RepeatableReader.
type versionsOnly struct{ b *memory.Backend }

func (v versionsOnly) ReadState(ctx context.Context) ([]backend.Record, error) {
	return v.b.ReadState(ctx)
}

func (v versionsOnly) TryLock(ctx context.Context) (backend.Session, error) {
	s, err := v.b.TryLock(ctx)
	if err != nil {
		return nil, err
	}
	return struct{ backend.Session }{s}, nil
}

// A plan with repeatable scripts on a backend that cannot record them is
// refused before anything runs; one without them runs.
func TestRepeatablesNeedABackendThatRecordsThem(t *testing.T) {
	ctx := context.Background()
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t ();", "r_v.sql": "CREATE VIEW v AS SELECT 1;"})
	mem := memory.New(nil)
	db := versionsOnly{mem}
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if !errors.Is(err, execute.ErrBadPlan) || len(mem.Executed()) != 0 || len(res.Steps) != 0 {
		t.Errorf("Migrate = %v, ran %q; want ErrBadPlan and nothing run", err, mem.Executed())
	}
	if _, err := execute.Migrate(ctx, db, set.WithoutRepeatables(), plan.Latest(), nil); err != nil {
		t.Errorf("without repeatable scripts: %v", err)
	}
}

// With Options.SingleTransaction, versions and repeatable scripts apply
// together or not at all.
func TestRepeatablesSingleTransaction(t *testing.T) {
	ctx := context.Background()
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t ();", "r_a.sql": "CREATE VIEW a AS SELECT 1;", "r_b.sql": "CREATE VIEW b AS SELECT broken;"})
	db := memory.New(&memory.Options{Fail: func(sql string) error {
		if sql == "CREATE VIEW b AS SELECT broken;" {
			return errors.New("column broken does not exist")
		}
		return nil
	}})
	_, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{SingleTransaction: true})
	var se *execute.StepError
	if !errors.As(err, &se) || se.Repeatable != "b" || se.Pos.Path != "m/r_b.sql" {
		t.Fatalf("Migrate = %v; want the step of r_b to fail", err)
	}
	recs, _ := db.ReadState(ctx)
	reps, _ := db.ReadRepeatables(ctx)
	if len(recs) != 0 || len(reps) != 0 {
		t.Errorf("after the failed single transaction: versions %+v, repeatable scripts %+v; want none", recs, reps)
	}
}

// A plan whose repeatable step has a waymark:batch statement (a plan built
// or edited by hand: package source refuses such a file) is refused
// before anything runs.
func TestRepeatableBatchRefused(t *testing.T) {
	ctx := context.Background()
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int, x int);", "r_v.sql": "CREATE VIEW v AS SELECT 1;"})
	db := memory.New(nil)
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil || len(p.Steps) != 2 || !p.Steps[1].Repeatable {
		t.Fatalf("Build = %v, %v", p, err)
	}
	st := &p.Steps[1]
	st.SQL = "-- waymark:no-transaction\n-- waymark:batch\nUPDATE t SET x = 1 WHERE id IN (SELECT id FROM t WHERE x IS NULL LIMIT 10);\n"
	st.Checksum, st.NoTransaction = source.ChecksumOf(st.SQL), true
	_, err = execute.Run(ctx, db, p, nil)
	if !errors.Is(err, execute.ErrBadPlan) || !strings.Contains(err.Error(), "repeatable script's step, but its script has a waymark:batch") || len(db.Executed()) != 0 {
		t.Errorf("Run = %v, ran %q; want ErrBadPlan for the batch and nothing run", err, db.Executed())
	}
}
