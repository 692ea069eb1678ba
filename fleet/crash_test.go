package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// onStep is a slog handler that calls fn when a step of version v is done.
type onStep struct {
	v  int64
	fn func()
}

func (h onStep) Enabled(context.Context, slog.Level) bool { return true }
func (h onStep) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "waymark: step done" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "version" && a.Value.Int64() == h.v {
			h.fn()
			return false
		}
		return true
	})
	return nil
}
func (h onStep) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onStep) WithGroup(string) slog.Handler      { return h }

// A server stopped at once right after a step committed without waiting
// for the disk: the fleet's report vouches only for steps that survived
// and names the others as unconfirmed, in text and JSON.
func TestCrashReportsUnconfirmedSteps(t *testing.T) {
	cluster := pgtest.OwnCluster(t)
	files := map[string]string{}
	for v := 1; v <= 5; v++ {
		files[fmt.Sprintf("v%d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);", v)
	}
	set := testsets.Map(t, files)
	ctx := context.Background()
	crash := func() {
		if err := cluster.Crash(); err != nil {
			t.Error(err)
		}
	}
	targets := []fleet.Target{{Name: "crashing", Conn: cluster.ConnString("postgres")}}
	rep, err := fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{Execute: &execute.Options{Logger: slog.New(onStep{3, crash})}})
	if !errors.Is(err, backend.ErrConnectionLost) {
		t.Fatalf("fleet.Run during a crash = %v, want a lost connection", err)
	}
	res := rep.Results[0]
	t.Logf("%v", rep)
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, cluster.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	recorded := map[int64]bool{}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('waymark_history') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		rows, _ := conn.Query(ctx, "SELECT version FROM waymark_history")
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			recorded[v] = true
		}
	}
	for _, s := range res.Steps {
		if !recorded[s.Version] {
			t.Errorf("the report vouches for version %d, which the crash undid", s.Version)
		}
	}
	if len(res.Unconfirmed) == 0 {
		t.Fatalf("no unconfirmed steps in %+v", res)
	}
	if !strings.Contains(rep.String(), "unconfirmed") {
		t.Errorf("the text report does not name the unconfirmed steps:\n%v", rep)
	}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Results []struct {
			Unconfirmed []struct{ Version int64 } `json:"unconfirmed"`
		} `json:"results"`
	}
	if err := json.Unmarshal(j, &decoded); err != nil || len(decoded.Results) != 1 || len(decoded.Results[0].Unconfirmed) != len(res.Unconfirmed) {
		t.Errorf("JSON report %s: want %d unconfirmed steps (%v)", j, len(res.Unconfirmed), err)
	}
	if strings.Contains(rep.String(), "may still be held") {
		t.Errorf("the report says the lock may still be held after the server stopped:\n%v", rep)
	}
}
