package proc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// InGroup starts cmd in process group pgid (0: a new group led by cmd).
// macOS has no parent-death signal; with dieWithParent the caller starts a
// watchdog for the group once it knows the group (see Watch).
func InGroup(cmd *exec.Cmd, pgid int, dieWithParent bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
}

// Stat asks the kernel (sysctl kern.proc.pid) what it knows of pid.
func Stat(pid int) (Info, bool) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		return Info{}, false
	}
	tv := kp.Proc.P_starttime
	start := uint64(tv.Sec)*1_000_000 + uint64(tv.Usec)
	return Info{Zombie: kp.Proc.P_stat == 5 /* SZOMB */, Group: int(kp.Eproc.Pgid), Start: start}, true
}

// GroupMembers lists the pids in group pgid that are not zombies.
func GroupMembers(pgid int) ([]int, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.pgrp", pgid)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, kp := range kps {
		if kp.Proc.P_stat != 5 {
			out = append(out, int(kp.Proc.P_pid))
		}
	}
	return out, nil
}

// watchdogScript kills group $2 once process $1 is gone.
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -KILL -- "-$2" 2>/dev/null`

// Watch stands in for Linux's parent-death signal: a detached shell that
// kills group pgid once this process is gone, even by SIGKILL.
func Watch(pgid int) error {
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "kindred-watchdog", strconv.Itoa(os.Getpid()), strconv.Itoa(pgid))
	Detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the process watchdog: %w", err)
	}
	return cmd.Process.Release()
}
