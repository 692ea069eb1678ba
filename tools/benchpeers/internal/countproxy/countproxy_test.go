package countproxy

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// echoServer listens on the socket a client of port would use in a new
// directory and echoes each line back once it has all of it, as a
// PostgreSQL server answers a message once it has all of it.
func echoServer(t *testing.T, port uint16) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return dir
}

// exchange writes each of msgs (the last ending the line), then reads
// back as many bytes in all.
func exchange(t *testing.T, c net.Conn, msgs ...string) {
	t.Helper()
	n := 0
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		n += len(m)
	}
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}

func TestCounts(t *testing.T) {
	const port = 5432
	p, err := Start(echoServer(t, port), port)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sock := filepath.Join(p.Dir(), ".s.PGSQL.5432")
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c, "one\n")               // a round trip
	exchange(t, c, "two ", "pipelined\n") // two writes before reading: one round trip
	exchange(t, c, "three\n")
	c.Close()
	if got, want := p.Counts(), (Counts{Conns: 1, RoundTrips: 3}); got != want {
		t.Errorf("after three exchanges: %+v, want %+v", got, want)
	}
	p.Reset()
	if got := p.Counts(); got != (Counts{}) {
		t.Errorf("after Reset: %+v, want zero", got)
	}
}
