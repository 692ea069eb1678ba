// Package countproxy is a unix-socket proxy in front of a PostgreSQL
// server that counts round trips: how many times a client sent something
// after having received the server's answer (or, first, after connecting).
// A client that pipelines several messages before reading counts once;
// the startup exchange and the final Terminate message count as one each.
//
// It lets the peers benchmark count the round trips of every tool alike,
// psql and separate processes included, without touching their code.
package countproxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Counts is what the proxy has seen since the last Reset.
type Counts struct {
	// Conns is the number of connections made.
	Conns int64
	// RoundTrips is the number of client turns (see the package doc).
	RoundTrips int64
}

// Proxy forwards connections to a server socket and counts them.
type Proxy struct {
	ln     net.Listener
	target string
	dir    string

	conns, trips atomic.Int64
	wg           sync.WaitGroup
}

// Start listens in a new temporary directory on the socket name that
// PostgreSQL clients use for port (".s.PGSQL.<port>"), forwarding each
// connection to the socket of that name in serverDir.
func Start(serverDir string, port uint16) (*Proxy, error) {
	dir, err := os.MkdirTemp("", "peers-proxy-")
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf(".s.PGSQL.%d", port)
	ln, err := net.Listen("unix", filepath.Join(dir, name))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Proxy{ln: ln, target: filepath.Join(serverDir, name), dir: dir}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Dir is the directory to give clients as their host.
func (p *Proxy) Dir() string { return p.dir }

// Reset sets the counts to zero.
func (p *Proxy) Reset() {
	p.conns.Store(0)
	p.trips.Store(0)
}

// Counts returns the counts since the last Reset.
func (p *Proxy) Counts() Counts {
	return Counts{Conns: p.conns.Load(), RoundTrips: p.trips.Load()}
}

// Close stops listening, waits for the open connections to end and
// removes the directory.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.wg.Wait()
	return errors.Join(err, os.RemoveAll(p.dir))
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go p.pipe(c, s)
	}
}

// pipe forwards both ways until either side closes. turn records who
// sent last: a client read that follows a server read (or nothing) is a
// new round trip.
func (p *Proxy) pipe(client, server net.Conn) {
	defer p.wg.Done()
	var (
		mu         sync.Mutex
		clientTurn bool
	)
	copyCounting := func(dst, src net.Conn, fromClient bool) {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				mu.Lock()
				if fromClient && !clientTurn {
					p.trips.Add(1)
				}
				clientTurn = fromClient
				mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil { // io.EOF or a closed connection
				break
			}
		}
		// Closing both ends unblocks the other direction.
		client.Close()
		server.Close()
	}
	done := make(chan struct{})
	go func() { copyCounting(client, server, false); close(done) }()
	copyCounting(server, client, true)
	<-done
}
