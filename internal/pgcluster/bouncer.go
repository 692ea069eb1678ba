package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoBouncer is returned, wrapped, by [StartBouncer] when the pgbouncer
// program is not installed.
var ErrNoBouncer = errors.New("pgcluster: pgbouncer not found; install it with apt-get install -y pgbouncer (Debian, Ubuntu) or brew install pgbouncer")

// BouncerOptions configure [StartBouncer].
type BouncerOptions struct {
	// Server is a connection string of the PostgreSQL server to pool: its
	// host (or socket directory) and port are used; every database of the
	// server is reachable through the bouncer, as the superuser.
	Server string
	// PoolMode is PgBouncer's pool_mode: "transaction" (the default),
	// "session" or "statement".
	PoolMode string
	// PoolSize is the number of server connections per database and user.
	// Default 4.
	PoolSize int
	// Logf receives progress messages. Default: none.
	Logf func(format string, args ...any)
}

// Bouncer is a running throwaway PgBouncer in front of a PostgreSQL server,
// listening on a free TCP port of 127.0.0.1. Like a cluster's server, it
// runs as an unprivileged user when the caller is root (PgBouncer refuses
// to run as root) and dies with the caller.
type Bouncer struct {
	dir  string
	port int
	proc *process
}

// StartBouncer starts PgBouncer with trust authentication in a new
// temporary directory and waits until it accepts connections.
func StartBouncer(ctx context.Context, opts BouncerOptions) (*Bouncer, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"} {
			if _, serr := os.Stat(filepath.Join(dir, "pgbouncer")); serr == nil {
				bin, err = filepath.Join(dir, "pgbouncer"), nil
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoBouncer, err)
	}
	cfg, err := pgconn.ParseConfig(opts.Server)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: bouncer: server: %w", err)
	}
	mode := opts.PoolMode
	if mode == "" {
		mode = "transaction"
	}
	size := opts.PoolSize
	if size == 0 {
		size = 4
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	cred, err := childCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(cred, "")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 500
server_lifetime = 3600
server_idle_timeout = 600
ignore_startup_parameters = extra_float_digits,options
logfile = %s
`, cfg.Host, cfg.Port, port, filepath.Join(dir, "users.txt"), mode, size, filepath.Join(dir, "pgbouncer.log"))
	users := fmt.Sprintf("%q \"\"\n", Superuser)
	for name, content := range map[string]string{"pgbouncer.ini": ini, "users.txt": users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgcluster: bouncer: %w", err)
		}
	}
	outPath := filepath.Join(dir, "stdout.log")
	out, err := os.Create(outPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgcluster: bouncer: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	prepare(cmd, dir, cred, out)
	p, err := startProcess(cmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgcluster: start pgbouncer: %w", err)
	}
	output := func() string {
		b, _ := os.ReadFile(outPath)
		l, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
		return string(tail(append(b, l...), 20))
	}
	b := &Bouncer{dir: dir, port: port, proc: p}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := ping(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", port, Superuser))
		if err == nil {
			logf("pgcluster: pgbouncer (%s pooling) on 127.0.0.1:%d in front of %s:%d", mode, port, cfg.Host, cfg.Port)
			return b, nil
		}
		select {
		case <-p.done:
			b.Stop()
			return nil, fmt.Errorf("pgcluster: pgbouncer exited during start: %v\n%s", p.err, output())
		case <-ctx.Done():
			b.Stop()
			return nil, fmt.Errorf("pgcluster: waiting for pgbouncer: %w (last attempt: %v)\n%s", ctx.Err(), err, output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ConnString returns a keyword/value connection string for database dbname
// through the bouncer, as the superuser, with the simple query protocol
// (transaction pooling cannot keep prepared statements).
func (b *Bouncer) ConnString(dbname string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable default_query_exec_mode=simple_protocol",
		b.port, Superuser, quoteValue(dbname))
}

// Stop stops PgBouncer and removes its directory.
func (b *Bouncer) Stop() error {
	err := b.proc.shutdown(2*time.Second, 2*time.Second)
	if err != nil && strings.Contains(err.Error(), "already exited") {
		err = nil
	}
	return errors.Join(err, os.RemoveAll(b.dir))
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer l.Close()
	return strconv.Atoi(strings.TrimPrefix(l.Addr().String()[strings.LastIndex(l.Addr().String(), ":"):], ":"))
}
