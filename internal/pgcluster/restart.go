package pgcluster

import (
	"errors"
	"fmt"
	"time"
)

// StopFast stops the server as pg_ctl stop -m fast does: open sessions are
// ended, open transactions rolled back, and the server writes a checkpoint
// before it exits. It waits until the server has exited. The cluster's
// files stay, and [Cluster.Restart] starts the server again on them: the
// two together are pg_ctl restart -m fast.
func (c *Cluster) StopFast() error {
	c.mu.Lock()
	p := c.server
	c.mu.Unlock()
	if p == nil {
		return errors.New("pgcluster: fast stop: no server")
	}
	if err := p.shutdown(30*time.Second, 10*time.Second); err != nil {
		return fmt.Errorf("pgcluster: fast stop: %w", err)
	}
	c.logf("pgcluster: server stopped on purpose (fast shutdown)")
	return nil
}
