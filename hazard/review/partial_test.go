package review_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/hazard/review"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// TestRefutedFindingChangesTheVerdict checks that a finding whose scan
// the measurement refutes fails nothing: an index made where the rules
// cannot see it (SQL that a DO block builds), then CREATE INDEX IF NOT EXISTS of it,
// which the server skips after taking its lock.
func TestRefutedFindingChangesTheVerdict(t *testing.T) {
	t.Parallel()
	set := testsets.Map(t, map[string]string{
		"v1_base.up.sql": "CREATE TABLE orders (id int PRIMARY KEY, status text);\nINSERT INTO orders SELECT g, 'new' FROM generate_series(1, 500) g;\n" +
			"DO $$ BEGIN EXECUTE 'CREATE INDEX orders_status_idx ON ' || 'orders (status)'; END $$;",
		"v2_case.up.sql": "SET LOCAL lock_timeout = '5s';\nCREATE INDEX IF NOT EXISTS orders_status_idx ON orders (status);",
	})
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := reviewPlan(t, pgtest.Conn(t), set, p, hazard.Options{})
	st := r.Steps[1].Statements[1]
	if len(st.Static.Findings) != 1 || st.Static.Findings[0].Rule != hazard.RuleCreateIndex {
		t.Fatalf("static findings %v, want create-index-not-concurrently", st.Static.Findings)
	}
	if len(st.Findings) != 0 || len(st.Refuted) != 1 || r.Err() != nil {
		t.Errorf("findings %v, refuted %v, Err %v: want the finding refuted and nothing to fix\n%s", st.Findings, st.Refuted, r.Err(), r)
	}
	if !strings.Contains(r.String(), "refuted      create-index-not-concurrently: the measurement refutes it") {
		t.Errorf("the review does not say the finding is refuted:\n%s", r)
	}
}

// TestPartialReview checks that a statement failing on the scratch
// database keeps what was measured: CREATE UNIQUE INDEX CONCURRENTLY
// over duplicates fails, after locking the table and leaving an INVALID
// index, and the review shows both, with the error, in text and JSON.
func TestPartialReview(t *testing.T) {
	t.Parallel()
	set := testsets.Map(t, map[string]string{
		"v1_base.up.sql": "CREATE TABLE users (id int PRIMARY KEY, email text);\nINSERT INTO users SELECT g, 'same@example.com' FROM generate_series(1, 50) g;",
		"v2_case.up.sql": "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
		"v3_next.up.sql": "ALTER TABLE users ADD COLUMN name text;",
	})
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Conn(t)
	static, err := hazard.CheckPlan(p, &hazard.Options{Set: set, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, failure := measure.Run(t.Context(), conn, p, nil)
	if !errors.Is(failure, measure.ErrStatement) {
		t.Fatalf("measure.Run = %v, want ErrStatement", failure)
	}
	r, err := review.BuildPartial(p, static, m, failure)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Steps[1].Statements[0]
	if st.Measured == nil || !strings.Contains(st.Failed, "could not create unique index") {
		t.Fatalf("failing statement: measured %v, failed %q", st.Measured, st.Failed)
	}
	if !slices.ContainsFunc(st.Measured.InvalidIndexes, func(r measure.Relation) bool { return r.Name == "users_email_key" }) {
		t.Errorf("invalid indexes %v, want users_email_key", st.Measured.InvalidIndexes)
	}
	if !slices.ContainsFunc(st.Measured.Locks, func(l measure.Lock) bool { return l.Relation.Name == "users" && l.Mode == hazard.ShareUpdateExclusive }) {
		t.Errorf("locks %v, want ShareUpdateExclusiveLock on users", st.Measured.Locks)
	}
	if !slices.ContainsFunc(r.Findings(), func(f *hazard.Finding) bool { return f.Rule == hazard.RuleMeasuredInvalidIdx }) || r.Err() == nil {
		t.Errorf("findings %v: want measured-invalid-index", r.Findings())
	}
	if r.Steps[2].Measured {
		t.Errorf("step 3 marked measured after the failure")
	}
	text := r.String()
	for _, want := range []string{"failed       ERROR: could not create unique index", "leaves index users_email_key invalid", "the measurement stopped: m/v2_case.up.sql:2:1: statement failed on the scratch database"} {
		if !strings.Contains(text, want) {
			t.Errorf("the review lacks %q:\n%s", want, text)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Error string `json:"error"`
		Steps []struct {
			Statements []struct {
				Failed   string `json:"failed"`
				Measured *struct {
					InvalidIndexes []struct{ Name string } `json:"invalid_indexes"`
				} `json:"measured"`
			} `json:"statements"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	js := got.Steps[1].Statements[0]
	if got.Error == "" || js.Failed == "" || js.Measured == nil || len(js.Measured.InvalidIndexes) != 1 {
		t.Errorf("JSON lacks the failure or the partial measurement:\n%s", b)
	}
}
