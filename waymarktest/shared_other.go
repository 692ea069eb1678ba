//go:build !unix

package waymarktest

import (
	"context"
	"errors"
)

// sharedCluster reports that this system has no throwaway cluster: the
// kit's cluster code needs a unix system.
func sharedCluster(context.Context) (string, error) {
	return "", errors.New("waymarktest: no throwaway PostgreSQL on this system; set " + EnvURL + " to a server of your own")
}

// binariesMissing reports whether err says that the PostgreSQL server
// binaries were not found.
func binariesMissing(error) bool { return false }

// processAlive reports that every process may be running: without the
// throwaway cluster there is nothing to sweep.
func processAlive(int) bool { return true }
