//go:build unix && !linux

package pgcluster

import "syscall"

// sysProcAttr returns the process attributes of initdb and postgres: run as
// cred's user (nil: the current one), in a process group of their own. This
// system has no parent-death signal, so only Stop ends the server.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,
	}
}
