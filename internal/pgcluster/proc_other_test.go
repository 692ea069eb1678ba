//go:build !linux

package pgcluster

import (
	"syscall"
	"testing"
)

// alive reports whether process pid exists.
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// childPIDs is not implemented here.
func childPIDs(t *testing.T, pid int) []int { return nil }
