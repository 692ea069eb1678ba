package execute_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// misnamed lists what a failure to connect must not be called.
var misnamed = []string{"held by", "gave up waiting", "connection to the database lost", "rolled back"}

// checkConnectError fails the test unless err names a failure to connect
// of the given problem, and nothing else.
func checkConnectError(t *testing.T, err error, problem backend.ConnectProblem, says string) {
	t.Helper()
	var ce *backend.ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, execute.ErrConnect) || !errors.Is(err, backend.ErrConnect) {
		t.Fatalf("Migrate = %v, want execute.ErrConnect with a *backend.ConnectError", err)
	}
	if ce.Problem != problem {
		t.Errorf("problem %d, want %d: %v", ce.Problem, problem, err)
	}
	if errors.Is(err, execute.ErrLockTimeout) || errors.Is(err, backend.ErrConnectionLost) {
		t.Errorf("Migrate = %v: a failure to connect reads as lock contention or a lost connection", err)
	}
	msg := err.Error()
	t.Logf("%v", msg)
	for _, wrong := range misnamed {
		if strings.Contains(msg, wrong) {
			t.Errorf("error %q says %q", msg, wrong)
		}
	}
	if !strings.Contains(msg, says) {
		t.Errorf("error %q does not say %q", msg, says)
	}
}

func migrateVia(t *testing.T, ctx context.Context, connString string) error {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), connString)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = execute.Migrate(ctx, pgxbackend.New(pool, nil), sampleSet(t), plan.Latest(), nil)
	return err
}

// Connecting is not waiting for the lock: a server that accepts and never
// answers, an already-cancelled context and a wrong password are named as
// the failures to connect they are.
func TestConnectFailuresAreNamed(t *testing.T) {
	t.Run("silent server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // accepted, never answered
			}
		}()
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err = migrateVia(t, ctx, "host="+host+" port="+port+" user=postgres dbname=postgres sslmode=disable")
		if took := time.Since(start); took > 6*time.Second {
			t.Errorf("Migrate returned after %v with a 3s context", took)
		}
		checkConnectError(t, err, backend.ConnectFailed, "deadline exceeded")
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := migrateVia(t, ctx, pgtest.ConnString(t))
		checkConnectError(t, err, backend.ConnectFailed, "context canceled")
	})
	t.Run("wrong password", func(t *testing.T) {
		cluster := pgtest.OwnCluster(t)
		requirePasswords(t, cluster)
		err := migrateVia(t, context.Background(), cluster.ConnString("postgres")+" user=app password=wrong")
		checkConnectError(t, err, backend.ConnectAuth, "password authentication failed")
	})
}

// requirePasswords makes the cluster ask every role but the superuser for
// a password, and adds the role app (password "right").
func requirePasswords(t *testing.T, c *pgcluster.Cluster) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE ROLE app LOGIN PASSWORD 'right'",
		"COPY (SELECT unnest(ARRAY['local all postgres trust', 'local all all scram-sha-256'])) TO '" + dir + "/pg_hba.conf'",
		"SELECT pg_reload_conf()",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the reload is asynchronous
}
