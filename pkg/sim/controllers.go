package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"k8s.io/client-go/discovery"

	"kindred.dev/kindred/pkg/internal/proc"
)

// SimulateControllers plays, until ctx ends, the controllers of components
// that cannot run on the simulated cluster. As each controller's kinds
// appear it starts:
//   - for a controller with Stages, a kwok process with the stages that set
//     the statuses that controller would; the process joins the cluster's
//     process group, so it lives and dies with the cluster;
//   - for a controller with Run, Run in this process, with the egress proxy
//     through which the API server reaches the pods it plays (webhooks).
//     One process at a time hosts these (a lock in the cluster's folder):
//     they play while a kindred process has the cluster open.
func (c *Cluster) SimulateControllers(ctx context.Context, controllers []Controller) error {
	if c.group == nil {
		return fmt.Errorf("sim: the cluster is stopped")
	}
	bins, err := findBinaries(c.binDir())
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.rest)
	if err != nil {
		return err
	}
	sh, err := c.sharedHost(bins)
	if err != nil {
		return err
	}
	defer sh.release()
	controllers = append(slices.Clone(builtins), controllers...)
	mine := map[string]bool{}
	done := make(chan string, len(controllers))
	defer func() {
		// Wait for this call's controllers, so none outlives it.
		for len(mine) > 0 {
			name := <-done
			sh.stopped(name)
			delete(mine, name)
		}
	}()
	for {
		hosting := sh.host(c)
		for _, ctl := range controllers {
			if !served(dc, ctl.Kinds) {
				continue
			}
			if ctl.Stages != "" && !c.playing("kwok-"+ctl.Name) {
				if err := c.play(bins, ctl); err != nil {
					c.log.Warn("simulating a controller", "controller", ctl.Name, "err", err)
				} else {
					c.log.Info("simulating a controller", "controller", ctl.Name, "as", "kwok stages")
				}
			}
			if ctl.Run != nil && hosting && sh.start(ctl.Name) {
				mine[ctl.Name] = true
				c.log.Info("simulating a controller", "controller", ctl.Name, "as", "a controller in this process")
				go func(ctl Controller) {
					if err := ctl.Run(ctx, sh.h); err != nil && ctx.Err() == nil {
						c.log.Warn("simulated controller stopped; starting it again", "controller", ctl.Name, "err", err)
					}
					done <- ctl.Name
				}(ctl)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case name := <-done:
			sh.stopped(name)
			delete(mine, name)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// A process hosts a cluster's controllers played in Go once, however many
// SimulateControllers calls it makes (a test that plays some controllers
// beside the provider's): the calls share one Host and one egress proxy,
// and each controller runs once. Across processes a lock in the cluster's
// folder says who hosts.
var (
	hostsMu sync.Mutex
	hosts   = map[string]*shared{}
)

type shared struct {
	dir     string
	h       *Host
	lock    *flock.Flock
	users   int
	hosting bool
	stop    context.CancelFunc
	running map[string]bool
}

func (c *Cluster) sharedHost(bins binaries) (*shared, error) {
	hostsMu.Lock()
	defer hostsMu.Unlock()
	if sh, ok := hosts[c.Dir]; ok {
		sh.users++
		return sh, nil
	}
	h, err := c.newHost(bins)
	if err != nil {
		return nil, err
	}
	sh := &shared{dir: c.Dir, h: h, lock: flock.New(filepath.Join(c.Dir, "host.lock")), users: 1, running: map[string]bool{}}
	hosts[c.Dir] = sh
	return sh, nil
}

// host reports whether this process hosts the cluster's played
// controllers, taking the lock and starting the egress proxy if it can.
func (sh *shared) host(c *Cluster) bool {
	hostsMu.Lock()
	defer hostsMu.Unlock()
	if sh.hosting {
		return true
	}
	if ok, _ := sh.lock.TryLock(); !ok {
		return false
	}
	sh.hosting = true
	ctx, stop := context.WithCancel(context.Background())
	sh.stop = stop
	go func() {
		if err := sh.h.egress.serve(ctx, egressSocket(sh.dir)); err != nil {
			c.log.Warn("simulated cluster: egress proxy", "err", err)
		}
	}()
	return true
}

// start reports whether the caller should start controller name: it is
// not running in this process yet.
func (sh *shared) start(name string) bool {
	hostsMu.Lock()
	defer hostsMu.Unlock()
	if sh.running[name] {
		return false
	}
	sh.running[name] = true
	return true
}

func (sh *shared) stopped(name string) {
	hostsMu.Lock()
	defer hostsMu.Unlock()
	delete(sh.running, name)
}

// release ends a call's use; the last one stops hosting.
func (sh *shared) release() {
	hostsMu.Lock()
	defer hostsMu.Unlock()
	sh.users--
	if sh.users > 0 {
		return
	}
	if sh.stop != nil {
		sh.stop()
	}
	if sh.hosting {
		_ = sh.lock.Unlock()
	}
	delete(hosts, sh.dir)
}

// served reports whether the API server serves every group/version/Kind,
// and publishes its group's OpenAPI v3 document.
func served(dc discovery.DiscoveryInterface, kinds []string) bool {
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return false
	}
	for _, k := range kinds {
		if _, ok := paths["apis/"+k[:strings.LastIndexByte(k, '/')]]; !ok {
			return false
		}
		i := strings.LastIndexByte(k, '/')
		list, err := dc.ServerResourcesForGroupVersion(k[:i])
		if err != nil {
			return false
		}
		found := false
		for _, r := range list.APIResources {
			found = found || r.Kind == k[i+1:]
		}
		if !found {
			return false
		}
	}
	return true
}

func (c *Cluster) pidFile(name string) string { return filepath.Join(c.Dir, name+".pid") }

// playing reports whether the cluster's process name runs.
func (c *Cluster) playing(name string) bool {
	b, err := os.ReadFile(c.pidFile(name))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false
	}
	in, ok := proc.Stat(pid)
	return ok && !in.Zombie && proc.Alive(pid)
}

// play starts a kwok process with the controller's stages. It manages no
// nodes: the main kwok process does.
func (c *Cluster) play(bins binaries, ctl Controller) error {
	stagesFile := filepath.Join(c.Dir, "stages-"+ctl.Name+".yaml")
	if err := os.WriteFile(stagesFile, []byte(ctl.Stages), 0o600); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	name := "kwok-" + ctl.Name
	if err := c.group.start(name, bins.path("kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+stagesFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-label-selector=kindred.dev/simulated-controller=none",
		fmt.Sprintf("--server-address=127.0.0.1:%d", ports[0]),
	); err != nil {
		return err
	}
	return os.WriteFile(c.pidFile(name), []byte(strconv.Itoa(c.group.procs[name].Process.Pid)), 0o600)
}

// binDir is where Start found the binaries, recorded for Open.
func (c *Cluster) binDir() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "bindir"))
	return strings.TrimSpace(string(b))
}
