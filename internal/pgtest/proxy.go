package pgtest

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Proxy is a TCP proxy of the test's own, on 127.0.0.1, in front of a
// PostgreSQL server (or anything that listens), that can go silent: stop
// forwarding in both directions without closing a connection, for
// existing connections and new ones alike (a new one is accepted and never
// answered), as a broken network or a stuck middlebox would.
type Proxy struct {
	ln      net.Listener
	network string
	addr    string
	query   string // the connection string's options other than host and port

	mu      sync.Mutex
	silent  bool
	wake    chan struct{} // closed by Close
	closed  bool
	conns   []net.Conn
	forward sync.WaitGroup
}

// StartProxy starts a proxy in front of the server of connString and
// returns it; ConnString gives the same database through it. It is closed
// when the test ends.
func StartProxy(t testing.TB, connString string) *Proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{network: "tcp", addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), wake: make(chan struct{})}
	if strings.HasPrefix(cfg.Host, "/") {
		p.network, p.addr = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	p.query = fmt.Sprintf("user=%s dbname=%s sslmode=disable", quote(cfg.User), quote(cfg.Database))
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p.forward.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// quote quotes a connection string value.
func quote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// ConnString returns a connection string for the database through the
// proxy (over TCP, without TLS).
func (p *Proxy) ConnString() string {
	host, port, _ := net.SplitHostPort(p.Addr())
	return fmt.Sprintf("host=%s port=%s %s", host, port, p.query)
}

// Silence makes the proxy stop forwarding, in both directions, on every
// connection, without closing any.
func (p *Proxy) Silence() {
	p.mu.Lock()
	p.silent = true
	p.mu.Unlock()
}

// Close closes the listener and every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.wake)
	conns := p.conns
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.forward.Wait()
}

func (p *Proxy) accept() {
	defer p.forward.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.forward.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.forward.Done()
	if p.hold() {
		return
	}
	s, err := net.Dial(p.network, p.addr)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, s)
	p.mu.Unlock()
	p.forward.Add(2)
	go p.pipe(s, c)
	go p.pipe(c, s)
}

// hold blocks while the proxy is silent, until it is closed; it reports
// whether the proxy was closed.
func (p *Proxy) hold() bool {
	p.mu.Lock()
	silent := p.silent
	p.mu.Unlock()
	if silent {
		<-p.wake
		return true
	}
	return false
}

// pipe copies from src to dst until either fails or the proxy goes silent.
func (p *Proxy) pipe(dst io.WriteCloser, src io.ReadCloser) {
	defer p.forward.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p.hold() {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}
