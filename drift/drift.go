package drift

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
)

// Options configure a [Checker]. A nil *Options means the defaults.
type Options struct {
	// Scratch is a connection string for a server to build the expected
	// schema on: its role needs CREATEDB, and the database it names is
	// only connected to. The server must be of the live server's major
	// version. Each build creates a database named
	// waymark_drift_<pid>_<n> and drops it. Default "": a throwaway
	// cluster of the live server's major version, started on first use
	// from the binaries the test kit would use (see FindMajorBinDir in the
	// package doc) and stopped by Close.
	Scratch string
	// Backend names the live database's history table, as the service
	// configures it. Default nil: the defaults of pgxbackend.Options.
	Backend *pgxbackend.Options
	// Compare chooses what is compared. Default nil: everything.
	Compare *CompareOptions
	// Ignore lists the differences not to report. Default nil: none.
	Ignore *IgnoreList
	// AllowOtherMajor accepts a scratch server of another major version
	// than the live one, with a warning in the report, instead of
	// failing with ErrMajorMismatch. Default false.
	AllowOtherMajor bool
	// Logf receives progress lines: the cluster started, each build.
	// Default: none.
	Logf func(format string, args ...any)
}

// Checker checks live databases against their migrations. It builds the
// schema a (set, version) makes once, and reuses it for every later check
// of a database at that version of that set. It is safe for concurrent
// use. Close it to stop the throwaway cluster it may have started.
type Checker struct {
	opts Options

	mu       sync.Mutex
	expected map[string]*expectation
	clusters map[int]*clusterEntry
	closed   bool
	built    int // expected schemas built
}

// expectation is the expected schema of one (set, version, role, server),
// built at most once.
type expectation struct {
	done     chan struct{}
	snap     *schema.Snapshot
	warnings []string
	server   int    // the scratch server's server_version_num
	user     string // the role the migrations ran as
	err      error
	took     time.Duration
}

type clusterEntry struct {
	done    chan struct{}
	cluster *pgcluster.Cluster
	err     error
}

// New returns a Checker with opts.
func New(opts *Options) *Checker {
	c := &Checker{expected: map[string]*expectation{}, clusters: map[int]*clusterEntry{}}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.Logf == nil {
		c.opts.Logf = func(string, ...any) {}
	}
	return c
}

// Close stops the throwaway clusters the Checker started.
func (c *Checker) Close() error {
	c.mu.Lock()
	c.closed = true
	clusters := c.clusters
	c.clusters = map[int]*clusterEntry{}
	c.mu.Unlock()
	var errs []error
	for _, e := range clusters {
		<-e.done
		if e.cluster != nil {
			errs = append(errs, e.cluster.Stop())
		}
	}
	return errors.Join(errs...)
}

// Check reads the live database's history and schema through pool (no
// lock, no write), builds the schema the set makes at the history's
// version, and compares the two. It is New(opts), Checker.Check and
// Close.
func Check(ctx context.Context, pool *pgxpool.Pool, set *source.Set, opts *Options) (*Report, error) {
	c := New(opts)
	r, err := c.Check(ctx, pool, set)
	return r, errors.Join(err, c.Close())
}

// Report is the result of a check.
type Report struct {
	// Version is the live database's version: the highest in its
	// history, the version the expected schema was built at.
	Version int64 `json:"version"`
	// ServerVersion is the live server's server_version_num.
	ServerVersion int `json:"server_version"`
	// Differences are what the live database has that its migrations do
	// not make (extra), what it lacks (missing) and what differs, less
	// those ignored; sorted by name.
	Differences []Difference `json:"differences"`
	// Ignored counts the differences an ignore rule matched.
	Ignored int `json:"ignored"`
	// UnusedIgnores are the ignore rules that matched nothing: probably
	// stale, or misspelt.
	UnusedIgnores []IgnoreRule `json:"unused_ignores,omitempty"`
	// Warnings are what makes the comparison less certain: an applied
	// script whose file changed since, a scratch server of another major
	// version, owners compared under another role's name.
	Warnings []string `json:"warnings,omitempty"`
	// Reused is set when the expected schema was built by an earlier
	// check of the same Checker.
	Reused bool `json:"reused"`
	// Build is how long building the expected schema took (0 when
	// reused); Read how long reading the live schema took.
	Build time.Duration `json:"build_ns"`
	Read  time.Duration `json:"read_ns"`
}

// Drifted reports whether the live database differs from its migrations.
func (r *Report) Drifted() bool { return len(r.Differences) > 0 }

// String returns the report for a person: a summary line, each difference
// on a line, then warnings and unused ignore rules.
func (r *Report) String() string {
	var b strings.Builder
	if r.Drifted() {
		fmt.Fprintf(&b, "drift: %d difference%s between the database (version %d) and its migrations",
			len(r.Differences), plural(len(r.Differences)), r.Version)
	} else {
		fmt.Fprintf(&b, "no drift: the database matches its migrations at version %d", r.Version)
	}
	if r.Ignored > 0 {
		fmt.Fprintf(&b, " (%d ignored)", r.Ignored)
	}
	b.WriteString("\n")
	for _, d := range r.Differences {
		fmt.Fprintf(&b, "  %s\n", d)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, u := range r.UnusedIgnores {
		fmt.Fprintf(&b, "warning: ignore rule %s matched nothing\n", u)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// live is what a check learns of the live database.
type live struct {
	version  int64
	server   int    // server_version_num
	migrator string // owner of the history table, else current_user
	dbOwner  string // owner of the database
	roles    []string
	warnings []string
	backend  *pgxbackend.Options // the history table
	schemas  []string            // compare only these schemas' objects (nil: all)
}

// Check compares the live database of pool with set; see [Check].
func (c *Checker) Check(ctx context.Context, pool *pgxpool.Pool, set *source.Set) (*Report, error) {
	return c.check(ctx, pool, set, c.opts.Backend, nil)
}

// check compares the live database of pool, whose history bo names, with
// set; with schemas, only the objects of those schemas.
func (c *Checker) check(ctx context.Context, pool *pgxpool.Pool, set *source.Set, bo *pgxbackend.Options, schemas []string) (*Report, error) {
	lv, err := c.readLive(ctx, pool, set, bo)
	if err != nil {
		return nil, err
	}
	lv.schemas = schemas
	begin := time.Now()
	snap, err := schema.Read(ctx, pool, schemaOptions(bo))
	if err != nil {
		return nil, fmt.Errorf("drift: read the live schema: %w", err)
	}
	r := &Report{Version: lv.version, ServerVersion: lv.server, Read: time.Since(begin), Warnings: lv.warnings}
	exp, reused, err := c.expectedSchema(ctx, set, lv)
	if err != nil {
		return nil, err
	}
	r.Reused = reused
	if !reused {
		r.Build = exp.took
	}
	r.Warnings = append(r.Warnings, exp.warnings...)
	diffs := Compare(only(exp.snap, schemas), only(snap, schemas), c.opts.Compare)
	versions := newMentions(set, lv.version)
	for i := range diffs {
		diffs[i].Version = versions.last(diffs[i])
	}
	r.Differences, r.Ignored, r.UnusedIgnores = c.opts.Ignore.apply(diffs)
	if r.Differences == nil {
		r.Differences = []Difference{}
	}
	return r, nil
}

// schemaOptions leave out the history and lease tables of bo.
func schemaOptions(bo *pgxbackend.Options) *schema.Options {
	var o pgxbackend.Options
	if bo != nil {
		o = *bo
	}
	table := o.Table
	if table == "" {
		table = pgxbackend.DefaultTable
	}
	s := o.Schema
	if s == "" && len(o.SearchPath) > 0 {
		s = o.SearchPath[0]
	}
	if s != "" {
		return &schema.Options{ExcludeTables: []string{s + "." + table, s + "." + pgxbackend.LeaseTable}}
	}
	return &schema.Options{ExcludeTables: []string{table, pgxbackend.LeaseTable}}
}

// readLive reads the live history and checks it against set.
func (c *Checker) readLive(ctx context.Context, pool *pgxpool.Pool, set *source.Set, bo *pgxbackend.Options) (*live, error) {
	records, err := pgxbackend.New(pool, bo).ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: read the live history: %w", err)
	}
	lv := &live{backend: bo}
	lv.version, lv.warnings, err = checkHistory(set, records)
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		lv.warnings = append(lv.warnings, "the database has no history: it is compared with an empty schema, so every object is extra")
	}
	if w, err := repeatablesWarning(ctx, pgxbackend.New(pool, bo), set, lv.version); err != nil {
		return nil, err
	} else if w != "" {
		lv.warnings = append(lv.warnings, w)
	}
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
	coalesce((SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)), current_user),
	ARRAY(SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname),
	pg_get_userbyid((SELECT datdba FROM pg_database WHERE datname = current_database()))`, historyIdent(bo)).
		Scan(&lv.server, &lv.migrator, &lv.roles, &lv.dbOwner)
	if err != nil {
		return nil, fmt.Errorf("drift: read the live server: %w", err)
	}
	return lv, nil
}

// repeatablesWarning says when the expected schema's repeatable scripts
// (the files', applied at the set's latest version) are not those the
// database recorded: the objects they make then differ for a reason other
// than drift.
func repeatablesWarning(ctx context.Context, db *pgxbackend.Backend, set *source.Set, version int64) (string, error) {
	recs, err := db.ReadRepeatables(ctx)
	if err != nil {
		return "", fmt.Errorf("drift: read the live history: %w", err)
	}
	sums := make([]source.NamedChecksum, len(recs))
	for i, r := range recs {
		sums[i] = source.NamedChecksum{Name: r.Name, Checksum: r.Checksum}
	}
	switch {
	case version != set.Latest() && len(set.Repeatables()) > 0:
		return fmt.Sprintf("the database is at version %d, below the files' latest %d: the expected schema has no repeatable scripts applied", version, set.Latest()), nil
	case version == set.Latest() && source.DigestRepeatables(sums) != set.RepeatablesDigest():
		return "the database's repeatable scripts are not the files' (changed, new or removed since they were applied): the expected schema has the files' text, so the objects they make may differ until the next up plan applies them", nil
	}
	return "", nil
}

// historyIdent returns the quoted name of the history table of bo, for
// to_regclass: schema-qualified when bo names the schema.
func historyIdent(bo *pgxbackend.Options) string {
	table := pgxbackend.DefaultTable
	if bo != nil && bo.Table != "" {
		table = bo.Table
	}
	var schemaName string
	if bo != nil {
		schemaName = bo.Schema
		if schemaName == "" && len(bo.SearchPath) > 0 {
			schemaName = bo.SearchPath[0]
		}
	}
	if schemaName != "" {
		return pgx.Identifier{schemaName, table}.Sanitize()
	}
	return pgx.Identifier{table}.Sanitize()
}

// checkHistory returns the version to build the expected schema at, or
// the reason there is none, and warnings.
func checkHistory(set *source.Set, records []backend.Record) (int64, []string, error) {
	var dirty, unknown, changed []int64
	applied := map[int64]bool{}
	var version int64
	for _, r := range records {
		version = max(version, r.Version)
		applied[r.Version] = true
		m, ok := set.Lookup(r.Version)
		switch {
		case r.Dirty != 0:
			dirty = append(dirty, r.Version)
		case !ok:
			unknown = append(unknown, r.Version)
		case m.Up.Checksum != r.Checksum:
			changed = append(changed, r.Version)
		}
	}
	if len(dirty) > 0 {
		return 0, nil, &HistoryError{Versions: dirty, Problem: plan.ErrDirty,
			Hint: "a no-transaction script stopped part-way; repair the database and resolve it first"}
	}
	if len(unknown) > 0 {
		return 0, nil, &HistoryError{Versions: unknown, Problem: plan.ErrUnknownVersion,
			Hint: "the database is ahead of these files; check it with the newer release's migrations"}
	}
	var gaps []int64
	for _, m := range set.Migrations() {
		if m.Version < version && !applied[m.Version] {
			gaps = append(gaps, m.Version)
		}
	}
	if len(gaps) > 0 {
		return 0, nil, &HistoryError{Versions: gaps, Problem: plan.ErrOutOfOrder,
			Hint: "these versions were never applied, though later ones were; apply them first"}
	}
	var warnings []string
	for _, v := range changed {
		warnings = append(warnings, fmt.Sprintf("version %d's up script changed since it was applied: the expected schema is what the file makes today", v))
	}
	return version, warnings, nil
}

// expectedSchema returns the expected schema of set at the live
// database's version, building it unless an earlier check did.
func (c *Checker) expectedSchema(ctx context.Context, set *source.Set, lv *live) (*expectation, bool, error) {
	key := c.key(set, lv)
	c.mu.Lock()
	e := c.expected[key]
	owner := e == nil
	if owner {
		e = &expectation{done: make(chan struct{})}
		c.expected[key] = e
	}
	c.mu.Unlock()
	if owner {
		begin := time.Now()
		e.err = c.build(ctx, set, lv, e)
		e.took = time.Since(begin)
		c.mu.Lock()
		c.built++
		c.mu.Unlock()
		if e.err != nil {
			c.mu.Lock()
			delete(c.expected, key) // a cancelled build is tried again
			c.mu.Unlock()
		}
		close(e.done)
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("drift: waiting for the expected schema: %w", ctx.Err())
	}
	if e.err != nil {
		return nil, false, e.err
	}
	return e, !owner, nil
}

// key names the expected schema: the set's versions up to the live one,
// the history options, the migrating role, the database's owner and the
// server's major version. The other roles are left out: they only need to
// exist for the build to succeed, and do not change what it makes.
func (c *Checker) key(set *source.Set, lv *live) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var o pgxbackend.Options
	if lv.backend != nil {
		o = *lv.backend
	}
	field(o.Schema)
	field(o.Table)
	field(o.AppKey)
	field(o.Lock.String())
	field(strings.Join(o.SearchPath, ","))
	field(fmt.Sprint(lv.version, " ", lv.server/10000))
	field(lv.migrator)
	field(lv.dbOwner)
	for _, m := range set.Migrations() {
		if m.Version > lv.version {
			break
		}
		field(fmt.Sprint(m.Version))
		field(m.Up.Checksum.String())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dbCounter numbers the scratch databases of the process.
var dbCounter atomic.Int64

// build makes the expected schema on a scratch database: set applied up
// to lv.version by lv.migrator, read, and dropped; into e. With
// lv.server 0, any major version does; with lv.migrator "", the scratch
// role runs the migrations.
func (c *Checker) build(ctx context.Context, set *source.Set, lv *live, e *expectation) error {
	snap, warnings, err := c.buildSnapshot(ctx, set, lv, e)
	e.snap, e.warnings = snap, warnings
	return err
}

func (c *Checker) buildSnapshot(ctx context.Context, set *source.Set, lv *live, e *expectation) (*schema.Snapshot, []string, error) {
	url, throwaway := c.opts.Scratch, false
	if url == "" {
		cl, err := c.cluster(ctx, lv.server/10000)
		if err != nil {
			return nil, nil, err
		}
		url, throwaway = cl.ConnString("postgres"), true
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("drift: connect to the scratch server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var warnings []string
	var server int
	var user string
	var createdb, super bool
	if err := admin.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_user, rolcreatedb, rolsuper
FROM pg_roles WHERE rolname = current_user`).Scan(&server, &user, &createdb, &super); err != nil {
		return nil, nil, fmt.Errorf("drift: scratch server: %w", err)
	}
	e.server, e.user = server, user
	if lv.server != 0 && server/10000 != lv.server/10000 {
		if !c.opts.AllowOtherMajor {
			return nil, nil, fmt.Errorf("drift: %w: scratch server is PostgreSQL %d, live is %d; name a scratch server of PostgreSQL %d, or none to start one",
				ErrMajorMismatch, server/10000, lv.server/10000, lv.server/10000)
		}
		warnings = append(warnings, fmt.Sprintf("the scratch server is PostgreSQL %d and the live one %d: some differences may come from the versions alone",
			server/10000, lv.server/10000))
	}
	if !createdb && !super {
		return nil, nil, fmt.Errorf("drift: %w: role %s of the scratch server", ErrNoCreateDB, user)
	}
	if throwaway {
		if err := makeRoles(ctx, admin, lv); err != nil {
			return nil, nil, err
		}
	}
	canBe := func(r string) (bool, error) {
		var can bool
		err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AND pg_has_role(current_user, $1, 'MEMBER')`, r).Scan(&can)
		if err != nil {
			return false, fmt.Errorf("drift: scratch server: %w", err)
		}
		return can, nil
	}
	role, owner := "", ""
	if lv.dbOwner != "" && lv.dbOwner != user {
		// The database's owner owns schema public from PostgreSQL 15 on
		// (pg_database_owner): give the scratch database the live one's.
		can, err := canBe(lv.dbOwner)
		if err != nil {
			return nil, nil, err
		}
		if can {
			owner = " OWNER " + pgx.Identifier{lv.dbOwner}.Sanitize()
		}
	}
	if lv.migrator != "" && lv.migrator != user {
		can, err := canBe(lv.migrator)
		if err != nil {
			return nil, nil, err
		}
		if can {
			role, e.user = lv.migrator, lv.migrator
		} else {
			warnings = append(warnings, fmt.Sprintf("the migrations ran as %s on the live database, but %s on the scratch server cannot act as %s: "+
				"owners and privileges of %s on the scratch database are compared as %s's", lv.migrator, user, lv.migrator, user, lv.migrator))
		}
	}

	name := fmt.Sprintf("waymark_drift_%d_%d", os.Getpid(), dbCounter.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"+owner); err != nil {
		return nil, nil, fmt.Errorf("drift: create scratch database %s: %w", name, err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	c.opts.Logf("drift: building version %d of the set on scratch database %s", lv.version, name)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("drift: scratch server: %w", err)
	}
	cfg.ConnConfig.Database = name
	if role != "" {
		cfg.ConnConfig.RuntimeParams["role"] = role
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("drift: connect to scratch database %s: %w", name, err)
	}
	defer pool.Close()
	for _, s := range lv.schemas {
		// A tenant's schema is made before its migrations run.
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s}.Sanitize()); err != nil {
			return nil, nil, fmt.Errorf("drift: %w: create schema %s on the scratch database: %w", ErrBuild, s, err)
		}
	}
	if lv.version > 0 {
		if _, err := execute.Migrate(ctx, pgxbackend.New(pool, lv.backend), set, plan.To(lv.version), nil); err != nil {
			return nil, nil, fmt.Errorf("drift: %w: set applied up to version %d on the scratch database: %w", ErrBuild, lv.version, err)
		}
	}
	snap, err := schema.Read(ctx, pool, schemaOptions(lv.backend))
	if err != nil {
		return nil, nil, fmt.Errorf("drift: read the expected schema: %w", err)
	}
	if lv.migrator != "" && role == "" && lv.migrator != user {
		renameRole(snap, user, lv.migrator)
		e.user = lv.migrator
	}
	return snap, warnings, nil
}

// makeRoles creates on the throwaway cluster the live server's roles, so
// that GRANTs to them and owners work: the migrating role as a superuser
// (it may need to create extensions), the others without login.
func makeRoles(ctx context.Context, admin *pgx.Conn, lv *live) error {
	for _, r := range lv.roles {
		var exists bool
		if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", r).Scan(&exists); err != nil {
			return fmt.Errorf("drift: scratch cluster: %w", err)
		}
		if exists {
			continue
		}
		attrs := " NOLOGIN"
		if r == lv.migrator {
			attrs = " SUPERUSER LOGIN"
		}
		if _, err := admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{r}.Sanitize()+attrs); err != nil {
			return fmt.Errorf("drift: scratch cluster: create role %s: %w", r, err)
		}
	}
	return nil
}

// cluster returns the throwaway cluster of a major version, starting it
// on first use.
func (c *Checker) cluster(ctx context.Context, major int) (*pgcluster.Cluster, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("drift: checker closed")
	}
	e := c.clusters[major]
	owner := e == nil
	if owner {
		e = &clusterEntry{done: make(chan struct{})}
		c.clusters[major] = e
	}
	c.mu.Unlock()
	if owner {
		e.cluster, e.err = startCluster(context.WithoutCancel(ctx), major, c.opts.Logf)
		close(e.done)
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("drift: waiting for the scratch cluster: %w", ctx.Err())
	}
	return e.cluster, e.err
}

func startCluster(ctx context.Context, major int, logf func(string, ...any)) (*pgcluster.Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var dir string
	var err error
	if major == 0 {
		dir, err = pgcluster.FindBinDir(ctx, logf)
	} else {
		dir, err = pgcluster.FindMajorBinDir(ctx, major, logf)
	}
	if err != nil {
		return nil, fmt.Errorf("drift: no PostgreSQL %d for the scratch cluster (name a scratch server instead): %w", major, err)
	}
	cl, err := pgcluster.Start(ctx, &pgcluster.Options{BinDir: dir, Logf: logf})
	if err != nil {
		return nil, fmt.Errorf("drift: start the scratch cluster: %w", err)
	}
	return cl, nil
}

// renameRole writes role to wherever role from owns or is named in
// privileges of snap.
func renameRole(snap *schema.Snapshot, from, to string) {
	owner := func(s *string) {
		if *s == from {
			*s = to
		}
	}
	privs := func(ps []string) []string {
		for i, p := range ps {
			grantee, rest, _ := strings.Cut(p, "=")
			rights, grantor, _ := strings.Cut(rest, "/")
			if unquote(grantee) == from {
				grantee = to
			}
			if unquote(grantor) == from {
				grantor = to
			}
			ps[i] = grantee + "=" + rights + "/" + grantor
		}
		slices.Sort(ps)
		return ps
	}
	cols := func(cs []schema.Column) {
		for i := range cs {
			cs[i].Privileges = privs(cs[i].Privileges)
		}
	}
	for k, x := range snap.Schemas {
		owner(&x.Owner)
		x.Privileges = privs(x.Privileges)
		snap.Schemas[k] = x
	}
	for k, x := range snap.Types {
		owner(&x.Owner)
		x.Privileges = privs(x.Privileges)
		cols(x.Attributes)
		snap.Types[k] = x
	}
	for k, x := range snap.Relations {
		owner(&x.Owner)
		x.Privileges = privs(x.Privileges)
		cols(x.Columns)
		for n, p := range x.Policies {
			for i := range p.Roles {
				owner(&p.Roles[i])
			}
			slices.Sort(p.Roles)
			x.Policies[n] = p
		}
		snap.Relations[k] = x
	}
	for k, x := range snap.Sequences {
		owner(&x.Owner)
		x.Privileges = privs(x.Privileges)
		snap.Sequences[k] = x
	}
	for k, x := range snap.Functions {
		owner(&x.Owner)
		x.Privileges = privs(x.Privileges)
		snap.Functions[k] = x
	}
	for i := range snap.DefaultPrivileges {
		owner(&snap.DefaultPrivileges[i].Role)
		snap.DefaultPrivileges[i].Privileges = privs(snap.DefaultPrivileges[i].Privileges)
	}
}
