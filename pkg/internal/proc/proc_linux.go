package proc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// InGroup starts cmd in process group pgid (0: a new group led by cmd).
// With dieWithParent, the kernel kills it when this process dies, even by
// SIGKILL.
func InGroup(cmd *exec.Cmd, pgid int, dieWithParent bool) {
	attr := &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	if dieWithParent {
		attr.Pdeathsig = syscall.SIGKILL
	}
	cmd.SysProcAttr = attr
}

// Stat reads what the kernel knows of pid from /proc.
func Stat(pid int) (Info, bool) {
	f := statFields(pid)
	if len(f) < 20 {
		return Info{}, false
	}
	pgid, err := strconv.Atoi(f[2])
	if err != nil {
		return Info{}, false
	}
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return Info{Zombie: f[0] == "Z", Group: pgid, Start: start}, true
}

// GroupMembers lists the pids in group pgid that are not zombies.
func GroupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if in, ok := Stat(pid); ok && in.Group == pgid && !in.Zombie {
			out = append(out, pid)
		}
	}
	return out, nil
}

// statFields returns the fields of /proc/PID/stat after the command name,
// so field 0 is the state.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}
