package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// EnvDatabaseURL names the environment variable that -database defaults to.
const EnvDatabaseURL = "DATABASE_URL"

// EnvPlanKey names the environment variable holding the key that plan
// signs saved plans with and apply verifies them with, when -key-file is
// not given.
const EnvPlanKey = "WAYMARK_PLAN_KEY"

// Env is what a command runs with: the program's [Config], its output, and
// the shared flags it asked for with AddFlags.
type Env struct {
	cfg     Config
	command string
	// Stdout and Stderr are the command's output.
	Stdout, Stderr io.Writer
	// JSON is set by -json: print one JSON document on Stdout.
	JSON bool

	flags    Flags
	dir      string
	database string
	schema   string
	table    string
	appKey   string
	timeout  time.Duration
	verbose  bool
	detailed bool
	keyFile  string
	wrote    bool // a JSON document was printed

	// PlanFlags
	allowOutOfOrder, ignoreDrift, allowNewer bool
	// LimitFlags
	lockTimeout, statementTimeout time.Duration
	lockRetries                   int
}

// Flags selects shared flags for [Env.AddFlags].
type Flags uint

// The shared flags.
const (
	// DatabaseFlags: -database, -schema, -table, -app-key, -timeout, -v.
	DatabaseFlags Flags = 1 << iota
	// SetFlags: -dir, unless the program has its set compiled in.
	SetFlags
	// JSONFlag: -json.
	JSONFlag
	// DetailedFlag: -detailed-exitcode.
	DetailedFlag
	// KeyFlag: -key-file.
	KeyFlag
	// PlanFlags: -allow-out-of-order, -ignore-drift, -allow-newer-database,
	// which turn on the plan.Options of those names over the Config's.
	PlanFlags
	// LimitFlags: -lock-timeout, -statement-timeout, -lock-timeout-retries,
	// the execute.Options of those names.
	LimitFlags
)

// AddFlags defines the shared flags which selects on fs.
func (e *Env) AddFlags(fs *flag.FlagSet, which Flags) {
	e.flags |= which
	c := e.cfg
	if which&SetFlags != 0 && c.Set == nil {
		fs.StringVar(&e.dir, "dir", c.Dir, "directory of the migration files")
	}
	if which&DatabaseFlags != 0 {
		var b pgxbackend.Options
		if c.Backend != nil {
			b = *c.Backend
		}
		fs.StringVar(&e.database, "database", "", "database URL (default $"+EnvDatabaseURL+")")
		fs.StringVar(&e.schema, "schema", b.Schema, "schema of the history table (default: found through search_path)")
		fs.StringVar(&e.table, "table", cmpOr(b.Table, pgxbackend.DefaultTable), "history table")
		fs.StringVar(&e.appKey, "app-key", b.AppKey, "app key of the migration set in the history")
		fs.DurationVar(&e.timeout, "timeout", 0, "stop after this long, the wait for the lock included; a statement under way is cancelled (0: no limit)")
		fs.BoolVar(&e.verbose, "v", false, "log each step and the lock to standard error")
	}
	if which&JSONFlag != 0 {
		fs.BoolVar(&e.JSON, "json", false, "print one JSON document for scripts")
	}
	if which&DetailedFlag != 0 {
		fs.BoolVar(&e.detailed, "detailed-exitcode", false, "exit 4 when steps are pending or were applied, 0 when there is nothing to do")
	}
	if which&KeyFlag != 0 {
		fs.StringVar(&e.keyFile, "key-file", "", "file holding the key that signs (plan) or verifies (apply) saved plans (default $"+EnvPlanKey+")")
	}
	if which&PlanFlags != 0 {
		var p plan.Options
		if c.Plan != nil {
			p = *c.Plan
		}
		fs.BoolVar(&e.allowOutOfOrder, "allow-out-of-order", p.AllowOutOfOrder, "apply versions below the database's highest that were never applied, instead of refusing")
		fs.BoolVar(&e.ignoreDrift, "ignore-drift", p.IgnoreDrift, "do not compare applied up scripts with their files")
		fs.BoolVar(&e.allowNewer, "allow-newer-database", p.AllowNewerDatabase, "accept applied versions above the files' latest (a newer release migrated the database)")
	}
	if which&LimitFlags != 0 {
		fs.DurationVar(&e.lockTimeout, "lock-timeout", 0, "bound each wait of a step for a table lock (PostgreSQL's lock_timeout; 0: the server's setting)")
		fs.DurationVar(&e.statementTimeout, "statement-timeout", 0, "bound each statement of a step (PostgreSQL's statement_timeout; 0: the server's setting)")
		fs.IntVar(&e.lockRetries, "lock-timeout-retries", 0, "try a transactional step this many more times when its lock timeout (-lock-timeout, the server's or its own SET LOCAL) stopped it")
	}
}

// planOptions returns the plan.Options of the Config, with the checks that
// PlanFlags turned off.
func (e *Env) planOptions() *plan.Options {
	var p plan.Options
	if e.cfg.Plan != nil {
		p = *e.cfg.Plan
	}
	if e.flags&PlanFlags != 0 {
		p.AllowOutOfOrder, p.IgnoreDrift, p.AllowNewerDatabase = e.allowOutOfOrder, e.ignoreDrift, e.allowNewer
	}
	return &p
}

// executeOptions returns the execute.Options that apply and fleet apply
// run set with: the plan options, the limits of LimitFlags, the logger.
func (e *Env) executeOptions(set *source.Set) (*execute.Options, error) {
	switch {
	case e.lockTimeout < 0:
		return nil, usagef("-lock-timeout %v: want 0 or more", e.lockTimeout)
	case e.statementTimeout < 0:
		return nil, usagef("-statement-timeout %v: want 0 or more", e.statementTimeout)
	case e.lockRetries < 0:
		return nil, usagef("-lock-timeout-retries %d: want 0 or more", e.lockRetries)
	}
	return &execute.Options{Plan: e.planOptions(), Logger: e.Logger(), Files: set,
		LockTimeout: e.lockTimeout, StatementTimeout: e.statementTimeout, LockTimeoutRetries: e.lockRetries}, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Dir returns the migration directory: -dir, or the Config's default.
func (e *Env) Dir() string {
	if e.dir != "" {
		return e.dir
	}
	return e.cfg.Dir
}

// Set returns the program's compiled-in set, or the set in -dir.
func (e *Env) Set() (*source.Set, error) {
	if e.cfg.Set != nil {
		return e.cfg.Set, nil
	}
	return source.FromDir(e.Dir())
}

// Connect connects to the database of -database (or $DATABASE_URL) with
// the history table of -schema, -table and -app-key, and returns ctx
// limited by -timeout. Call done when finished with both.
func (e *Env) Connect(ctx context.Context) (_ context.Context, _ *pgxbackend.Backend, done func(), err error) {
	ctx, _, db, done, err := e.connect(ctx)
	return ctx, db, done, err
}

// connect is Connect, with the pool.
func (e *Env) connect(ctx context.Context) (_ context.Context, _ *pgxpool.Pool, _ *pgxbackend.Backend, done func(), err error) {
	url := e.databaseURL()
	if url == "" {
		return nil, nil, nil, nil, usagef("no database: pass -database URL or set %s", EnvDatabaseURL)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, nil, nil, usagef("-database: %v", err)
	}
	cfg.MaxConns = max(cfg.MaxConns, 2)
	cancel := func() {}
	if e.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, nil, fmt.Errorf("connect: %w", err)
	}
	db := pgxbackend.New(pool, &pgxbackend.Options{Schema: e.schema, Table: e.table, AppKey: e.appKey})
	return ctx, pool, db, func() { pool.Close(); cancel() }, nil
}

// databaseURL returns -database, or $DATABASE_URL.
func (e *Env) databaseURL() string {
	if e.database != "" {
		return e.database
	}
	return e.cfg.Getenv(EnvDatabaseURL)
}

// Logger returns the logger for execute: warnings to standard error, and
// with -v every step and the lock, in the command's words. A failed step
// is not logged: the command prints its error once, with its hints.
func (e *Env) Logger() *slog.Logger {
	level := slog.LevelWarn
	if e.verbose {
		level = slog.LevelDebug
	}
	h := slog.NewTextHandler(sayWriter{e, e.Stderr}, &slog.HandlerOptions{Level: level})
	return slog.New(quietFailures{h})
}

// key returns the plan key from -key-file or $WAYMARK_PLAN_KEY, or nil.
func (e *Env) key() ([]byte, error) {
	if e.keyFile != "" {
		data, err := os.ReadFile(e.keyFile)
		if err != nil {
			return nil, usagef("-key-file: %v", err)
		}
		if k := strings.TrimRight(string(data), "\r\n"); k != "" {
			return []byte(k), nil
		}
		return nil, usagef("-key-file: %s is empty", e.keyFile)
	}
	if k := e.cfg.Getenv(EnvPlanKey); k != "" {
		return []byte(k), nil
	}
	return nil, nil
}

// terminal reports whether standard output is a terminal (and not -json):
// then commands may show progress.
func (e *Env) terminal() bool {
	if e.JSON {
		return false
	}
	f, ok := e.Stdout.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// targetFlags are the -to and -down-to flags of plan and apply.
type targetFlags struct{ to, downTo string }

// add defines the flags on fs; prefix starts their help.
func (f *targetFlags) add(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&f.to, "to", "", prefix+"target version, reached going up (default: the latest)")
	fs.StringVar(&f.downTo, "down-to", "", prefix+"target version, reached going down (0: undo everything)")
}

func (f targetFlags) set() bool { return f.to != "" || f.downTo != "" }

// target reads the flags: "" and "latest" mean Latest.
func (f targetFlags) target() (plan.Target, error) {
	if f.to != "" && f.downTo != "" {
		return plan.Target{}, usagef("-to and -down-to cannot be combined")
	}
	if f.downTo != "" {
		v, err := parseVersion("-down-to", f.downTo)
		return plan.DownTo(v), err
	}
	if f.to == "" || f.to == "latest" {
		return plan.Latest(), nil
	}
	v, err := parseVersion("-to", f.to)
	return plan.To(v), err
}

// planning returns what plan and apply start from: the target of tf, the
// plan key and the set.
func (e *Env) planning(tf targetFlags) (plan.Target, []byte, *source.Set, error) {
	t, err := tf.target()
	if err != nil {
		return t, nil, nil, err
	}
	key, err := e.key()
	if err != nil {
		return t, nil, nil, err
	}
	set, err := e.Set()
	return t, key, set, err
}

func parseVersion(what, s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, usagef("%s %q: want a version number (0 for the empty schema)", what, s)
	}
	return v, nil
}

// isRefusal reports whether err is one of waymark's refusals, made before
// anything changed.
func isRefusal(err error) bool {
	var list plan.ErrorList
	for _, target := range []error{execute.ErrStalePlan, execute.ErrBadPlan, execute.ErrNotInHistory,
		execute.ErrNotDirty, execute.ErrBadResolution, plan.ErrSignature, plan.ErrFileChanged, errBadPlanFile} {
		if errors.Is(err, target) {
			return true
		}
	}
	return errors.As(err, &list)
}

// errBadPlanFile marks a saved plan that cannot be loaded.
var errBadPlanFile = errors.New("bad plan file")

// hints suggests the next step after err, naming the program's commands.
func hints(name string, err error) []string {
	var se *execute.StepError
	var dirty []int64
	if errors.As(err, &se) && se.Dirty {
		dirty = append(dirty, se.Version)
	}
	var list plan.ErrorList
	if errors.As(err, &list) {
		for _, pe := range list {
			if errors.Is(pe, plan.ErrDirty) {
				dirty = append(dirty, pe.Version)
			}
		}
	}
	var out []string
	for _, v := range dirty {
		out = append(out, fmt.Sprintf("version %d is dirty: repair the database by hand, then record what it holds with '%s resolve %d applied' (its work is complete) or '%s resolve %d not-applied' (its partial effects are removed)", v, name, v, name, v))
	}
	if errors.Is(err, execute.ErrStalePlan) || errors.Is(err, plan.ErrFileChanged) {
		out = append(out, fmt.Sprintf("make a new plan with '%s plan' and review it", name))
	}
	return out
}

// jsonResult starts the -json document of a command that changes
// something.
type jsonResult struct {
	Command  string  `json:"command"`
	Outcome  Outcome `json:"outcome"`
	ExitCode int     `json:"exit_code"`
}
