package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Crash stops the server the way a crash would: an immediate shutdown
// (SIGQUIT), in which the server does not finish its work, flush or
// checkpoint, and ends every session at once. It waits until the server has
// exited. The cluster's files stay, and [Cluster.Restart] starts the server
// again on them, recovering from the write-ahead log as after a crash.
func (c *Cluster) Crash() error {
	c.mu.Lock()
	p := c.server
	c.mu.Unlock()
	if p == nil {
		return errors.New("pgcluster: crash: no server")
	}
	if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGQUIT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pgcluster: crash: %w", err)
	}
	select {
	case <-p.done:
		c.logf("pgcluster: server crashed on purpose (immediate shutdown)")
		return nil
	case <-time.After(time.Minute):
		return errors.New("pgcluster: crash: the server did not exit within a minute")
	}
}

// Restart starts the server again on the cluster's files after [Cluster.Crash],
// on the same socket, and waits until it accepts connections.
func (c *Cluster) Restart(ctx context.Context) error {
	c.mu.Lock()
	p := c.server
	c.mu.Unlock()
	if p != nil {
		select {
		case <-p.done:
		default:
			return errors.New("pgcluster: restart: the server is still running")
		}
	}
	return c.start(ctx, c.binDir, c.cred)
}
