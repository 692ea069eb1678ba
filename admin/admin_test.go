package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/admin"
	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/status"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var files = map[string]string{
	"v1_counter.up.sql":   "CREATE TABLE runs (n int NOT NULL);\n",
	"v1_counter.down.sql": "DROP TABLE runs;\n",
	"v2_once.up.sql":      "INSERT INTO runs VALUES (2);\nCREATE TABLE two (id int);\n",
	"v2_once.down.sql":    "DROP TABLE two;\nDELETE FROM runs WHERE n = 2;\n",
}

// allowAll is an authorizer that lets every request through and counts
// the actions it saw.
type recorder struct {
	mu   sync.Mutex
	seen []admin.Action
	deny bool
}

func (a *recorder) authorize(r *http.Request, action admin.Action) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, action)
	if a.deny || r.Header.Get("Authorization") != "Bearer test-token" {
		return errors.New("no valid token")
	}
	return nil
}

type fixture struct {
	pool *pgxpool.Pool
	db   backend.Backend
	set  *source.Set
	auth *recorder
	srv  *httptest.Server
	h    *admin.Handler
}

func setup(t *testing.T, cfg admin.Config) *fixture {
	t.Helper()
	f := &fixture{pool: pgtest.Pool(t), set: testsets.Map(t, files), auth: &recorder{}}
	f.db = pgxbackend.New(f.pool, nil)
	if cfg.Backend == nil {
		cfg.Backend = f.db
	}
	cfg.Set = f.set
	cfg.Authorize = f.auth.authorize
	h, err := admin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv = httptest.NewServer(http.StripPrefix("/admin", h))
	t.Cleanup(f.srv.Close)
	return f
}

// do sends a request with the test's token and returns the status code
// and body.
func (f *fixture) do(t *testing.T, ctx context.Context, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, f.srv.URL+"/admin"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

type planDoc struct {
	Checksum string          `json:"checksum"`
	Empty    bool            `json:"empty"`
	Review   string          `json:"review"`
	Plan     json.RawMessage `json:"plan"`
}

func (f *fixture) plan(t *testing.T, query string) planDoc {
	t.Helper()
	code, body := f.do(t, t.Context(), "GET", "/plan?format=json"+query, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /plan = %d %s", code, body)
	}
	var d planDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) versions(t *testing.T) []int64 {
	t.Helper()
	recs, err := f.db.ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	vs := []int64{}
	for _, r := range recs {
		vs = append(vs, r.Version)
	}
	return vs
}

func TestNewNeedsAuthorizer(t *testing.T) {
	set := testsets.Map(t, files)
	_, err := admin.New(admin.Config{Backend: pgxbackend.New(pgtest.Pool(t), nil), Set: set, AllowApply: true})
	if !errors.Is(err, admin.ErrNoAuthorizer) {
		t.Errorf("New without Authorize = %v, want ErrNoAuthorizer", err)
	}
	_, err = admin.New(admin.Config{Set: set, Authorize: func(*http.Request, admin.Action) error { return nil }})
	if !errors.Is(err, admin.ErrBadConfig) || !strings.Contains(err.Error(), "Backend") {
		t.Errorf("New without Backend = %v, want ErrBadConfig naming Backend", err)
	}
}

func TestStatusAndPlanAreTheCommands(t *testing.T) {
	f := setup(t, admin.Config{})
	ctx := t.Context()
	if _, err := execute.Migrate(ctx, f.db, f.set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	rep, err := status.Read(ctx, f.db, f.set, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, body := f.do(t, ctx, "GET", "/status", "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /status = %d %s", code, body)
	}
	if diff := cmp.Diff(rep.String(), body); diff != "" {
		t.Errorf("text status differs from the report (-want +got):\n%s", diff)
	}
	wantJSON, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	code, body = f.do(t, ctx, "GET", "/status?format=json", "", "")
	if code != http.StatusOK || strings.TrimSpace(body) != string(wantJSON) {
		t.Errorf("GET /status?format=json = %d\n%s\nwant\n%s", code, body, wantJSON)
	}

	p, err := plan.Build(ctx, f.db, f.set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := admin.PlanChecksum(p)
	if err != nil {
		t.Fatal(err)
	}
	d := f.plan(t, "")
	if d.Checksum != sum || d.Review != p.Review() || d.Empty {
		t.Errorf("GET /plan = checksum %s review %q; want %s and %q", d.Checksum, d.Review, sum, p.Review())
	}
	code, body = f.do(t, ctx, "GET", "/plan?down-to=0", "", "")
	if code != http.StatusOK || !strings.Contains(body, "plan: down from 1 to 0") || !strings.Contains(body, "checksum: sha256:") {
		t.Errorf("GET /plan?down-to=0 = %d %s", code, body)
	}
	code, body = f.do(t, ctx, "GET", "/plan?to=7", "", "")
	if code != http.StatusConflict || !strings.Contains(body, "unknown target version") {
		t.Errorf("GET /plan?to=7 = %d %s, want 409 naming the unknown target", code, body)
	}
	code, body = f.do(t, ctx, "GET", "/plan?to=x", "", "")
	if code != http.StatusBadRequest || !strings.Contains(body, `to "x"`) {
		t.Errorf("GET /plan?to=x = %d %s, want 400 naming the parameter", code, body)
	}
	if diff := cmp.Diff([]admin.Action{"status", "status", "plan", "plan", "plan", "plan"}, f.auth.seen); diff != "" {
		t.Errorf("authorized actions (-want +got):\n%s", diff)
	}
}

func TestUnauthorized(t *testing.T) {
	f := setup(t, admin.Config{AllowApply: true})
	ctx := t.Context()
	sum := f.plan(t, "").Checksum
	f.auth.deny = true
	for _, path := range []string{"/status", "/status?format=json", "/plan"} {
		code, body := f.do(t, ctx, "GET", path, "", "")
		if code != http.StatusForbidden || strings.Contains(body, "counter") || strings.Contains(body, "version") {
			t.Errorf("GET %s unauthorized = %d %q, want 403 without the schema", path, code, body)
		}
	}
	code, body := f.do(t, ctx, "POST", "/apply", "application/json", `{"checksum":"`+sum+`"}`)
	if code != http.StatusForbidden || !strings.Contains(body, "not authorized to apply") {
		t.Errorf("POST /apply unauthorized = %d %s, want 403", code, body)
	}
	// Without the token at all.
	resp, err := http.Get(f.srv.URL + "/admin/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /status without a token = %d, want 403", resp.StatusCode)
	}
	if vs := f.versions(t); len(vs) != 0 {
		t.Errorf("an unauthorized apply applied %v", vs)
	}
}

func TestApplyRefused(t *testing.T) {
	ctx := t.Context()
	disabled := setup(t, admin.Config{})
	sum := disabled.plan(t, "").Checksum
	code, body := disabled.do(t, ctx, "POST", "/apply", "application/json", `{"checksum":"`+sum+`"}`)
	if code != http.StatusForbidden || !strings.Contains(body, "AllowApply") {
		t.Errorf("apply when not enabled = %d %s, want 403", code, body)
	}

	f := setup(t, admin.Config{AllowApply: true})
	sum = f.plan(t, "").Checksum
	tests := []struct {
		name, contentType, body string
		code                    int
		says                    string
	}{
		{"a form post, as a browser on another site sends", "application/x-www-form-urlencoded", "checksum=" + sum, http.StatusUnsupportedMediaType, "JSON body"},
		{"text/plain, which a browser form may also send", "text/plain", `{"checksum":"` + sum + `"}`, http.StatusUnsupportedMediaType, "JSON body"},
		{"no checksum", "application/json", `{"to":2}`, http.StatusBadRequest, "get the plan first"},
		{"unknown field", "application/json", `{"checksum":"` + sum + `","force":true}`, http.StatusBadRequest, "force"},
		{"two documents", "application/json", `{"checksum":"` + sum + `"} {}`, http.StatusBadRequest, "one JSON object"},
		{"an edited checksum", "application/json", `{"checksum":"sha256:` + strings.Repeat("0", 64) + `"}`, http.StatusConflict, "nothing was applied"},
		{"the checksum of another target", "application/json", `{"to":1,"checksum":"` + sum + `"}`, http.StatusConflict, "up to 1"},
	}
	for _, tt := range tests {
		code, body := f.do(t, ctx, "POST", "/apply", tt.contentType, tt.body)
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("%s: POST /apply = %d %s, want %d saying %q", tt.name, code, body, tt.code, tt.says)
		}
	}
	if vs := f.versions(t); len(vs) != 0 {
		t.Fatalf("refused applies applied %v", vs)
	}

	// A stale plan: the database moved after the caller saw the plan.
	if _, err := execute.Migrate(ctx, f.db, f.set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	code, body = f.do(t, ctx, "POST", "/apply", "application/json", `{"checksum":"`+sum+`"}`)
	if code != http.StatusConflict || !strings.Contains(body, "apply refused") {
		t.Errorf("stale plan: POST /apply = %d %s, want 409", code, body)
	}
	if diff := cmp.Diff([]int64{1}, f.versions(t)); diff != "" {
		t.Errorf("versions after a stale apply (-want +got):\n%s", diff)
	}

	// The plan shown now applies.
	sum = f.plan(t, "").Checksum
	code, body = f.do(t, ctx, "POST", "/apply", "application/json", `{"checksum":"`+sum+`"}`)
	if code != http.StatusOK || !strings.Contains(body, `"version":2`) {
		t.Errorf("POST /apply = %d %s, want 200 applying 2", code, body)
	}
}

func TestConcurrentApplyRunsOnce(t *testing.T) {
	f := setup(t, admin.Config{AllowApply: true})
	ctx := t.Context()
	sum := f.plan(t, "").Checksum
	const n = 4
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body := f.do(t, ctx, "POST", "/apply", "application/json", `{"checksum":"`+sum+`"}`)
			switch {
			case code == http.StatusOK:
				ok.Add(1)
			case code == http.StatusConflict && (strings.Contains(body, "stale plan") || strings.Contains(body, "apply refused")):
				refused.Add(1)
			default:
				t.Errorf("concurrent POST /apply = %d %s", code, body)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != n-1 {
		t.Errorf("%d applied, %d refused; want 1 and %d", ok.Load(), refused.Load(), n-1)
	}
	var runs int
	if err := f.pool.QueryRow(ctx, "SELECT count(*) FROM runs WHERE n = 2").Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if runs != 1 {
		t.Errorf("version 2's script ran %d times, want once", runs)
	}
	if diff := cmp.Diff([]int64{1, 2}, f.versions(t)); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

func TestCancelledApply(t *testing.T) {
	slow := map[string]string{
		"v1_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n",
	}
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	set := testsets.Map(t, slow)
	h, err := admin.New(admin.Config{Backend: db, Set: set, AllowApply: true,
		Authorize: func(*http.Request, admin.Action) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	finished := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		finished <- time.Now()
	}))
	defer srv.Close()
	p, err := plan.Build(t.Context(), db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := admin.PlanChecksum(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/apply", strings.NewReader(`{"checksum":"`+sum+`"}`))
	req.Header.Set("Content-Type", "application/json")
	_, err = srv.Client().Do(req)
	cancelled := time.Now()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request = %v, want the client's deadline", err)
	}
	select {
	case at := <-finished:
		t.Logf("the handler returned %v after the client went away", at.Sub(cancelled).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the handler still runs 30s after the request was cancelled")
	}
	recs, err := db.ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := pool.QueryRow(t.Context(), "SELECT to_regclass('slow') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 || exists {
		t.Errorf("after a cancelled apply: history %v, table slow exists %v; want neither", recs, exists)
	}
	// The lock was released: a run now takes it at once.
	lockCtx, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()
	sess, err := db.TryLock(lockCtx)
	if err != nil {
		t.Fatalf("the lock is still held after a cancelled apply: %v", err)
	}
	sess.Unlock(context.Background())
}

func TestResponsesCarryNoSecrets(t *testing.T) {
	// A database that cannot be reached, with a password in its URL.
	pool, err := pgxpool.New(t.Context(), "postgres://svc_user:s3cret-pw@127.0.0.1:1/appdb?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	f := setup(t, admin.Config{Backend: pgxbackend.New(pool, nil), AllowApply: true})
	for _, path := range []string{"/status", "/status?format=json", "/plan", "/plan?format=json"} {
		code, body := f.do(t, t.Context(), "GET", path, "", "")
		if code != http.StatusInternalServerError {
			t.Errorf("GET %s on an unreachable database = %d, want 500", path, code)
		}
		for _, secret := range []string{"s3cret", "svc_user", "127.0.0.1", "appdb", "postgres://"} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s: response %q carries %q", path, body, secret)
			}
		}
	}
	code, body := f.do(t, t.Context(), "POST", "/apply", "application/json", `{"checksum":"sha256:00"}`)
	if code != http.StatusInternalServerError || strings.Contains(body, "s3cret") || strings.Contains(body, "svc_user") {
		t.Errorf("POST /apply on an unreachable database = %d %s", code, body)
	}
}

func TestReady(t *testing.T) {
	ctx := t.Context()
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	set := testsets.Map(t, files)
	probe := httptest.NewServer(admin.ReadyHandler(db, set, 0, nil))
	defer probe.Close()
	get := func() (int, string) {
		resp, err := http.Get(probe.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if err := admin.Ready(ctx, db, set); !errors.Is(err, admin.ErrNotReady) || !strings.Contains(err.Error(), "at version 0") {
		t.Errorf("Ready on an empty database = %v, want ErrNotReady at version 0", err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || body != "not ready\n" {
		t.Errorf("probe on an empty database = %d %q", code, body)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ready(ctx, db, set); !errors.Is(err, admin.ErrNotReady) || !strings.Contains(err.Error(), "expect 2") {
		t.Errorf("Ready at version 1 of 2 = %v", err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ready(ctx, db, set); err != nil {
		t.Errorf("Ready at the latest version = %v", err)
	}
	if code, body := get(); code != http.StatusOK || body != "ready\n" {
		t.Errorf("probe at the latest version = %d %q", code, body)
	}
	// A newer release migrated further: the old binary is still ready.
	next := map[string]string{"v3_more.up.sql": "CREATE TABLE three (id int);\n"}
	for k, v := range files {
		next[k] = v
	}
	if _, err := execute.Migrate(ctx, db, testsets.Map(t, next), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ready(ctx, db, set); err != nil {
		t.Errorf("Ready of the old binary on a newer database = %v", err)
	}
	// A drifted file: not ready.
	drift := map[string]string{}
	for k, v := range files {
		drift[k] = v
	}
	drift["v2_once.up.sql"] = "INSERT INTO runs VALUES (22);\n"
	if err := admin.Ready(ctx, db, testsets.Map(t, drift)); !errors.Is(err, admin.ErrNotReady) || !errors.Is(err, plan.ErrDrift) {
		t.Errorf("Ready with a drifted file = %v, want ErrNotReady and plan.ErrDrift", err)
	}
}

// TestReadyRepeatables: a database at the latest version is ready only
// with the set's repeatable scripts applied as they are in the files; a
// script removed from the files leaves it ready.
func TestReadyRepeatables(t *testing.T) {
	ctx := t.Context()
	db := pgxbackend.New(pgtest.Pool(t), nil)
	with := func(view string) *source.Set {
		m := map[string]string{"r_view.sql": view}
		for k, v := range files {
			m[k] = v
		}
		return testsets.Map(t, m)
	}
	set := with("CREATE OR REPLACE VIEW answer AS SELECT 1 AS n;\n")
	if _, err := execute.Migrate(ctx, db, set.WithoutRepeatables(), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ready(ctx, db, set); !errors.Is(err, admin.ErrNotReady) || !strings.Contains(err.Error(), "1 steps pending") {
		t.Errorf("Ready with the repeatable script not applied = %v, want ErrNotReady with 1 step", err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Ready(ctx, db, set); err != nil {
		t.Errorf("Ready with the repeatable script applied = %v", err)
	}
	changed := with("CREATE OR REPLACE VIEW answer AS SELECT 2 AS n;\n")
	if err := admin.Ready(ctx, db, changed); !errors.Is(err, admin.ErrNotReady) {
		t.Errorf("Ready with the repeatable script changed = %v, want ErrNotReady", err)
	}
	if err := admin.Ready(ctx, db, set.WithoutRepeatables()); err != nil {
		t.Errorf("Ready with the repeatable script removed from the files = %v", err)
	}
}
