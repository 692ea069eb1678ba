package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux build that matters.
const clockTick = 10 * time.Millisecond

// procTimes returns a process's CPU time from /proc/<pid>/stat: its own
// (user and system) and its reaped children's, and its parent's pid.
func procTimes(pid int) (own, children time.Duration, ppid int, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start
	// after its closing parenthesis, with field 3 (state).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := make([]int64, 0, 5)
	for _, idx := range []int{1, 11, 12, 13, 14} { // ppid, utime, stime, cutime, cstime
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		n = append(n, v)
	}
	return time.Duration(n[1]+n[2]) * clockTick, time.Duration(n[3]+n[4]) * clockTick, int(n[0]), nil
}

// serverCPU returns the CPU time the server has used so far: the
// postmaster's own, that of the children it has reaped (ended sessions),
// and that of its live children (sessions and background processes).
func serverCPU(postmaster int) (time.Duration, error) {
	own, reaped, _, err := procTimes(postmaster)
	if err != nil {
		return 0, err
	}
	total := own + reaped
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		own, reaped, ppid, err := procTimes(pid)
		if err != nil || ppid != postmaster {
			continue // gone meanwhile, or not the server's
		}
		total += own + reaped
	}
	return total, nil
}

// runTime returns the CPU time of a live process from
// /proc/<pid>/schedstat, in nanoseconds rather than ticks.
func runTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/%d/schedstat: empty", pid)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns), err
}

// selfCPU returns the CPU time of this process and of its children that
// have been waited for (psql).
func selfCPU() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return rusageTime(&self) + rusageTime(&children)
}

func rusageTime(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
