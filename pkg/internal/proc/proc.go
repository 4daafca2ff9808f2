// Package proc holds the few process calls that differ between operating
// systems: whether a process still runs, process groups, starting a
// process that outlives its parent, and what the kernel knows of a
// process. Each OS has its own file; the rest of kindred stays portable.
package proc

import "errors"

// ErrUnsupported is returned where this OS has no equivalent (process
// groups on Windows).
var ErrUnsupported = errors.New("not supported on this operating system")

// Info is what the kernel knows of a process.
type Info struct {
	// Zombie: it has exited and waits for its parent to reap it.
	Zombie bool
	// Group is its process group.
	Group int
	// Start identifies when it started (clock ticks since boot on Linux,
	// microseconds since the epoch on macOS); with the pid it names a
	// process uniquely, even after the pid is reused. 0 when unknown.
	Start uint64
}
