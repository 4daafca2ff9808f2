package proc

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/windows"
)

// Alive reports whether a process with this pid runs.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return err == windows.ERROR_ACCESS_DENIED
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	return code == 259 // STILL_ACTIVE
}

// Detach makes cmd start in a process group of its own, without a console,
// so it outlives this process.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_NEW_PROCESS_GROUP | windows.DETACHED_PROCESS}
}

// Windows has no process groups that signals reach; the simulated
// cluster, the one user of these, does not run on Windows.

// InGroup cannot put cmd in a POSIX process group on Windows.
func InGroup(cmd *exec.Cmd, pgid int, dieWithParent bool) {}

// SignalGroup is unsupported on Windows.
func SignalGroup(pgid int, sig syscall.Signal) error { return ErrUnsupported }

// GroupExists is false on Windows: there are no process groups to find.
func GroupExists(pgid int) bool { return false }

// Stat is unsupported on Windows.
func Stat(pid int) (Info, bool) { return Info{}, false }

// GroupMembers is unsupported on Windows.
func GroupMembers(pgid int) ([]int, error) { return nil, ErrUnsupported }

// Terminate and Kill name the signals the Unix code sends.
const (
	Terminate = syscall.SIGTERM
	Kill      = syscall.SIGKILL
)
