package waymarktest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// templateFormat goes into every template's name. Change it when what a
// template holds for the same migrations changes, above all when waymark's
// history table format changes, so that old templates are not cloned.
const templateFormat = "waymarktest template 1, history format 4"

const (
	// templatePrefix starts the name of every template database:
	// waymarktest_tpl_<hash>.
	templatePrefix = "waymarktest_tpl_"
	// buildSuffix ends the name of a template database while it is built.
	buildSuffix = "_build"
	// builtComment starts the comment on a template database.
	builtComment = "waymarktest template built "
)

// buildTimeout bounds building one template.
const buildTimeout = 10 * time.Minute

// template is a template database of the server, built at most once per
// process.
type template struct {
	name  string
	done  chan struct{} // closed when err is set
	err   error
	built bool // this process built it (rather than found it)
}

// templateName returns the name of the template database for set migrated
// to version target with the history table of opts: a hash of everything
// that makes the template's content (at the latest version, the repeatable
// scripts too), so that an edited migration, another target, another
// history table or another prerequisites script makes another template.
func templateName(set *source.Set, target int64, opts *pgxbackend.Options, prerequisites string) string {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(templateFormat)
	var o pgxbackend.Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = pgxbackend.DefaultTable
	}
	field(o.Schema)
	field(o.Table)
	field(o.AppKey)
	field(o.Lock.String()) // a lease makes the lease table
	field(fmt.Sprint(target))
	field(prerequisites)
	for _, m := range set.Migrations() {
		if m.Version > target {
			break
		}
		field(fmt.Sprint(m.Version))
		field(m.Name)
		field(m.Up.Checksum.String())
	}
	if target == set.Latest() {
		// Migrating to the latest version applies the repeatable scripts.
		for _, r := range set.Repeatables() {
			field("R " + r.Name)
			field(r.Script.Checksum.String())
		}
	}
	return templatePrefix + hex.EncodeToString(h.Sum(nil))[:24]
}

// templateBuilt parses the time out of a template database's comment.
func templateBuilt(comment string) (time.Time, bool) {
	s, ok := strings.CutPrefix(comment, builtComment)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// lockKey is the advisory lock that builders and sweepers of template name
// take.
func lockKey(name string) int64 {
	sum := sha256.Sum256([]byte("waymarktest lock " + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// template returns the name of the template database for set at target,
// building it if no process has. Concurrent callers for one template wait
// for the first; a failed build is reported to every caller.
func (s *server) template(ctx context.Context, set *source.Set, target int64, opts *pgxbackend.Options, prerequisites string) (*template, error) {
	name := templateName(set, target, opts, prerequisites)
	s.mu.Lock()
	tp := s.templates[name]
	owner := tp == nil
	if owner {
		tp = &template{name: name, done: make(chan struct{})}
		s.templates[name] = tp
	}
	s.mu.Unlock()
	if owner {
		// The build outlives the test that started it: others wait for it.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
		tp.built, tp.err = s.ensureTemplate(bctx, name, set, target, opts, prerequisites)
		cancel()
		close(tp.done)
	}
	select {
	case <-tp.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waymarktest: waiting for template %s: %w", name, ctx.Err())
	}
	if tp.err != nil {
		return nil, tp.err
	}
	return tp, nil
}

// forget drops the process's memory of template tp, so that the next
// caller checks the server again (another process dropped it).
func (s *server) forget(tp *template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.templates[tp.name] == tp {
		delete(s.templates, tp.name)
	}
}

// ensureTemplate builds template name unless it exists. It holds the
// template's advisory lock meanwhile, so that of several processes one
// builds and the others wait and find it built. It builds under another
// name and renames the database when it is complete, so a crash never
// leaves a half-built template under the name others clone. built reports
// whether this call built it.
func (s *server) ensureTemplate(ctx context.Context, name string, set *source.Set, target int64, opts *pgxbackend.Options, prerequisites string) (built bool, err error) {
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("waymarktest: template %s: %w", name, err)
	}
	defer conn.Release()
	unlock, err := advisoryLock(ctx, conn, name)
	if err != nil {
		return false, fmt.Errorf("waymarktest: template %s: %w", name, err)
	}
	defer func() { err = errors.Join(err, unlock()) }()

	if ok, err := databaseExists(ctx, conn, name); err != nil || ok {
		return false, err
	}
	build := name + buildSuffix
	ident := pgx.Identifier{build}.Sanitize()
	if err := s.dropDB(ctx, build); err != nil { // left by a builder that crashed
		return false, err
	}
	if err := s.createDB(ctx, build, "template0"); err != nil {
		return false, err
	}
	stmts := []string{"COMMENT ON DATABASE " + ident + " IS '" + builtComment + time.Now().UTC().Format(time.RFC3339) + "'"}
	if err := execAll(ctx, conn, stmts); err != nil {
		return false, fmt.Errorf("waymarktest: template %s: %w", name, err)
	}
	if prerequisites != "" {
		if err := runPrerequisites(ctx, s.connString(build), prerequisites); err != nil {
			s.dropDB(context.WithoutCancel(ctx), build)
			return false, fmt.Errorf("waymarktest: build template of %d migrations up to version %d: %w", set.Len(), target, err)
		}
	}
	if err := migrate(ctx, s.connString(build), set, target, opts); err != nil {
		s.dropDB(context.WithoutCancel(ctx), build) // the next builder would drop it too
		return false, fmt.Errorf("waymarktest: build template of %d migrations up to version %d: %w", set.Len(), target, err)
	}
	// No session may stay connected to a template: CREATE DATABASE would
	// fail. The migration's connections are closed; refuse new ones, and
	// end any that are still going away.
	stmts = []string{
		"ALTER DATABASE " + ident + " WITH ALLOW_CONNECTIONS false IS_TEMPLATE true",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + literal(build) + " AND pid <> pg_backend_pid()",
		"ALTER DATABASE " + ident + " RENAME TO " + pgx.Identifier{name}.Sanitize(),
	}
	if err := execAll(ctx, conn, stmts); err != nil {
		return false, fmt.Errorf("waymarktest: template %s: %w", name, err)
	}
	return true, nil
}

// migrate applies set up to target to the empty database at connString.
func migrate(ctx context.Context, connString string, set *source.Set, target int64, opts *pgxbackend.Options) error {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = execute.Migrate(ctx, pgxbackend.New(pool, opts), set, plan.To(target), nil)
	return err
}

// dropTemplate drops template name, its build database and the ready
// clones of its warm pool, unless some process holds its lock (it is
// being built right now).
func (s *server) dropTemplate(ctx context.Context, name string) error {
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := lockKey(name)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil || !got {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	ready, err := (&warmPool{s: s, prefix: readyPrefixOf(name)}).list(ctx)
	if err != nil {
		return err
	}
	for _, db := range ready {
		if err := s.dropDB(ctx, db); err != nil {
			return err
		}
	}
	for _, db := range []string{name, name + buildSuffix} {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" WITH IS_TEMPLATE false")
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			continue // no such database
		}
		if err != nil {
			return err
		}
		if err := s.dropDB(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// advisoryLock waits for the advisory lock of template name on conn and
// returns the function that releases it.
func advisoryLock(ctx context.Context, conn *pgxpool.Conn, name string) (unlock func() error, err error) {
	key := lockKey(name)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("wait for the build lock: %w", err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			// The session may still hold the lock: do not return it to
			// the pool.
			conn.Conn().Close(ctx)
			return fmt.Errorf("waymarktest: release the build lock of %s: %w", name, err)
		}
		return nil
	}, nil
}

func databaseExists(ctx context.Context, conn *pgxpool.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	return ok, err
}

func execAll(ctx context.Context, conn *pgxpool.Conn, stmts []string) error {
	for _, sql := range stmts {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// literal quotes s as an SQL string literal (standard_conforming_strings
// on, as it is by default since PostgreSQL 9.1).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
