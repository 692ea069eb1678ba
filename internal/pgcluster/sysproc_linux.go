package pgcluster

import "syscall"

// sysProcAttr returns the process attributes of initdb and postgres: run as
// cred's user (nil: the current one), in a process group of their own (so a
// terminal's Ctrl-C reaches only the caller, which decides how to stop the
// server), and sent SIGQUIT (immediate shutdown) when the thread that
// started them dies; see startProcess for why a thread and not the process.
//
// Go sets the parent-death signal after switching to cred's user, so the
// switch, which clears the signal, does not undo it.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGQUIT,
	}
}
