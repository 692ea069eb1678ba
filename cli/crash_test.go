package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/cli"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
)

// A server stopped at once while apply runs step 4: the steps committed
// before it without waiting for the disk are printed as unconfirmed, in
// text and JSON, never as applied, and the output does not say that the
// lock may still be held.
func TestApplyReportsUnconfirmedSteps(t *testing.T) {
	files := map[string]string{}
	for v := 1; v <= 5; v++ {
		files[fmt.Sprintf("v%d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);", v)
	}
	files["v4_t4.up.sql"] += "\nSELECT pg_sleep(5);"
	set := testsets.Map(t, files)
	for _, asJSON := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", asJSON), func(t *testing.T) {
			cluster := pgtest.OwnCluster(t)
			url := cluster.ConnString("postgres")
			cfg := &cli.Config{Set: set, Getenv: func(k string) string {
				if k == cli.EnvDatabaseURL {
					return url
				}
				return ""
			}}
			go crashAt(t, cluster.Crash, url, 3)
			args := []string{"apply"}
			if asJSON {
				args = append(args, "-json")
			}
			code, stdout, stderr := run(t, cfg, args...)
			t.Logf("apply = %d\n%s\n%s", code, stdout, stderr)
			if code == 0 {
				t.Fatal("apply succeeded through a crash")
			}
			if strings.Contains(stdout+stderr, "may still be held") {
				t.Error("the output says the lock may still be held after the server stopped")
			}
			if !asJSON {
				for _, v := range []int{1, 2, 3} {
					if strings.Contains(stdout, fmt.Sprintf("applied: up %d ", v)) {
						t.Errorf("version %d printed as applied, though no durable commit followed it", v)
					}
					if !strings.Contains(stdout, fmt.Sprintf("unconfirmed: up %d ", v)) {
						t.Errorf("version %d not printed as unconfirmed", v)
					}
				}
				return
			}
			var j struct {
				Steps       []struct{ Version int64 } `json:"steps"`
				Unconfirmed []struct{ Version int64 } `json:"unconfirmed"`
			}
			if err := json.Unmarshal([]byte(stdout), &j); err != nil {
				t.Fatal(err)
			}
			if len(j.Steps) != 0 || len(j.Unconfirmed) < 3 {
				t.Errorf("JSON steps %v, unconfirmed %v; want none and at least versions 1-3", j.Steps, j.Unconfirmed)
			}
		})
	}
}

// crashAt calls crash once the history at url has n versions.
func crashAt(t *testing.T, crash func() error, url string, n int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var got int
		if conn.QueryRow(ctx, "SELECT count(*) FROM waymark_history").Scan(&got) == nil && got >= n {
			if err := crash(); err != nil {
				t.Error(err)
			}
			return
		}
	}
	t.Error("the history never reached the crash point")
}
