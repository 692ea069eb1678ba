package cli

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
)

func TestFleetProgress(t *testing.T) {
	var out bytes.Buffer
	p := fleetProgress(&Env{Stdout: &out})
	p(fleet.Event{Target: "tenant_a", Done: 0, Total: 2}) // a start prints nothing
	p(fleet.Event{Target: "tenant_a", Done: 1, Total: 2, Result: &fleet.Result{Target: "tenant_a", Outcome: fleet.Applied, From: 1, To: 3,
		Steps: make([]execute.StepResult, 2), Duration: 41700 * time.Microsecond}})
	p(fleet.Event{Target: "db2", Done: 2, Total: 2, Result: &fleet.Result{Target: "db2", Outcome: fleet.Failed, From: -1, To: -1,
		Duration: 3 * time.Millisecond, Err: errors.New("connect: refused")}})
	want := "[1/2] tenant_a applied 1 -> 3 (2 steps, 42ms)\n[2/2] db2 failed (0 steps, 3ms)\n"
	if got := out.String(); got != want {
		t.Errorf("progress:\n%s\nwant:\n%s", got, want)
	}
}
