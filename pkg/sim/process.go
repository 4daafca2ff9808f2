package sim

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"kindred.dev/kindred/pkg/internal/proc"
)

// ownerFile records, in a cluster's folder, who started it and which process
// group holds its processes: "PID STARTTIME PGID KEEP". A later Start reads
// it to reap clusters whose owner died without stopping them.
const ownerFile = "owner"

// group is the process group of one simulated cluster.
type group struct {
	dir  string
	pgid int
	keep bool

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	args  map[string][]string
	// respawns counts, per process, the times it was started again after
	// it died on its own; stopping is set once the group is being stopped.
	respawns map[string]int
	stopping bool
}

// respawned are the processes started again when they die on their own,
// as a node's supervisor restarts its kubelet: kwok, which plays every
// node's kubelet, has panicked under load.
var respawned = map[string]bool{"kwok": true}

// maxRespawns bounds how often one process is started again.
const maxRespawns = 5

// start runs bin with args in the group, logging to logs/NAME.log.
func (g *group) start(name, bin string, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(g.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = g.dir
	// Unless the cluster is kept, its processes die with this one, even
	// by SIGKILL (the kernel's parent-death signal on Linux, a watchdog on
	// macOS); reaping covers what this misses.
	proc.InGroup(cmd, g.pgid, !g.keep)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	if g.pgid == 0 {
		g.pgid = cmd.Process.Pid
		if err := g.writeOwner(); err != nil {
			_ = cmd.Process.Kill()
			return err
		}
		if !g.keep {
			if err := proc.Watch(g.pgid); err != nil {
				_ = cmd.Process.Kill()
				return err
			}
		}
	}
	g.mu.Lock()
	if g.procs == nil {
		g.procs, g.args, g.respawns = map[string]*exec.Cmd{}, map[string][]string{}, map[string]int{}
	}
	g.procs[name] = cmd
	g.args[name] = append([]string{bin}, args...)
	err = g.recordCommand(name, g.args[name])
	g.mu.Unlock()
	if err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	go g.watch(name, cmd)
	return nil
}

// watch waits for a process to exit, and starts a respawned one again
// when it died on its own (not stopped, restarted or replaced).
func (g *group) watch(name string, cmd *exec.Cmd) {
	err := cmd.Wait()
	g.mu.Lock()
	again := respawned[name] && !g.stopping && g.procs[name] == cmd && g.respawns[name] < maxRespawns
	if again {
		g.respawns[name]++
	}
	a := g.args[name]
	g.mu.Unlock()
	if !again {
		return
	}
	if logf, lerr := os.OpenFile(filepath.Join(g.dir, "logs", name+".log"), os.O_WRONLY|os.O_APPEND, 0o600); lerr == nil {
		fmt.Fprintf(logf, "kindred: %s exited (%v); starting it again\n", name, err)
		_ = logf.Close()
	}
	time.Sleep(200 * time.Millisecond)
	_ = g.start(name, a[0], a[1:]...)
}

// restart kills one process of the group and starts it again with the
// same arguments.
func (g *group) restart(name string) error {
	g.mu.Lock()
	cmd, ok := g.procs[name]
	delete(g.procs, name) // not the watcher's to start again
	a := g.args[name]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("no process %s in this cluster", name)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Kill()
	// The new process binds the same ports, so the old one must be gone
	// first. A large process can take seconds to exit on a loaded machine
	// (2 s was too short under CI: the new API server found its port taken
	// and exited).
	gone := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if in, ok := proc.Stat(pid); !ok || in.Zombie {
			gone = true
			break
		}
	}
	if !gone {
		return fmt.Errorf("%s (pid %d) did not exit a minute after SIGKILL", name, pid)
	}
	return g.start(name, a[0], a[1:]...)
}

// alive reports whether the group's process name runs.
func (g *group) alive(name string) bool {
	g.mu.Lock()
	cmd, ok := g.procs[name]
	g.mu.Unlock()
	if !ok {
		return false
	}
	in, ok := proc.Stat(cmd.Process.Pid)
	return ok && !in.Zombie
}

// again starts process name once more with its arguments, after it exited.
func (g *group) again(name string) error {
	g.mu.Lock()
	a, ok := g.args[name]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("no process %s in this cluster", name)
	}
	return g.start(name, a[0], a[1:]...)
}

func (g *group) writeOwner() error {
	pid := os.Getpid()
	keep := 0
	if g.keep {
		keep = 1
	}
	line := fmt.Sprintf("%d %d %d %d\n", pid, startTime(pid), g.pgid, keep)
	return os.WriteFile(filepath.Join(g.dir, ownerFile), []byte(line), 0o600)
}

// stop ends every process of the group: SIGTERM, then SIGKILL after grace.
func (g *group) stop(grace time.Duration) error {
	if g.pgid == 0 {
		return nil
	}
	g.mu.Lock()
	g.stopping = true
	g.mu.Unlock()
	_ = proc.SignalGroup(g.pgid, proc.Terminate)
	deadline := time.Now().Add(grace)
	for groupAlive(g.pgid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if groupAlive(g.pgid) {
		_ = proc.SignalGroup(g.pgid, proc.Kill)
		for i := 0; groupAlive(g.pgid) && i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if groupAlive(g.pgid) {
		return fmt.Errorf("process group %d survived SIGKILL", g.pgid)
	}
	return nil
}

// groupAlive reports whether any process is left in process group pgid.
// Zombies count as gone: they hold no resources but a table entry.
func groupAlive(pgid int) bool {
	if !proc.GroupExists(pgid) {
		return false
	}
	members, err := proc.GroupMembers(pgid)
	return err != nil || len(members) > 0
}

// startTime is a process's start time as the kernel records it; with the
// pid it names a process uniquely, even after pid reuse. 0 if unknown.
func startTime(pid int) uint64 {
	in, _ := proc.Stat(pid)
	return in.Start
}

// Reap stops the simulated clusters under root whose owner process has
// died, such as those of a test that panicked or hit go test -timeout, and
// removes their folders. Clusters started with Keep are left alone. It
// returns how many it reaped.
func Reap(root string) (int, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// A folder without an owner file is a start that died before
			// its first process; old ones are safe to remove.
			if info, serr := os.Stat(dir); serr == nil && time.Since(info.ModTime()) > time.Minute {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		var pid, pgid, keep int
		var start uint64
		if _, err := fmt.Sscan(string(b), &pid, &start, &pgid, &keep); err != nil {
			continue
		}
		if keep == 1 || (startTime(pid) == start && start != 0) {
			continue // kept on purpose, or its owner still runs
		}
		g := &group{dir: dir, pgid: pgid}
		if groupAlive(pgid) {
			if err := g.stop(2 * time.Second); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		_ = os.RemoveAll(dir)
		n++
	}
	return n, errors.Join(errs...)
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
