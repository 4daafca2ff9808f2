//go:build unix

package proc

import (
	"errors"
	"os/exec"
	"syscall"
)

// Alive reports whether a process with this pid exists (zombies included).
// A process of another user counts as alive.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Detach makes cmd start in a session of its own, so it outlives this
// process and its terminal.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// SignalGroup sends sig to every process of group pgid.
func SignalGroup(pgid int, sig syscall.Signal) error {
	return syscall.Kill(-pgid, sig)
}

// GroupExists reports whether any process (zombies included) is in group
// pgid.
func GroupExists(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Terminate and Kill are the signals that end a group politely and not.
const (
	Terminate = syscall.SIGTERM
	Kill      = syscall.SIGKILL
)
