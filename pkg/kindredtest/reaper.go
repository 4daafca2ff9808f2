package kindredtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"kindred.dev/kindred/pkg/internal/proc"
)

// reapers records, per cluster, that this process started its reaper.
var reapers = struct {
	sync.Mutex
	started map[string]bool
}{started: map[string]bool{}}

// reaperScript waits for the test process to exit, drops its lease, and
// when no live process holds a lease (and none asked to keep the cluster)
// stops the cluster's process group and removes its folders, under the
// same lock Up takes.
const reaperScript = `
owner=$1 leases=$2 clusters=$3 kind=$4 runtime=$5 kindstate=$6
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
rm -f "$leases/$owner.lease"
exec 9>>"$leases/lock"
command -v flock >/dev/null && flock 9
[ -e "$leases/keep" ] && exit 0
for f in "$leases"/*.lease; do
  [ -e "$f" ] || continue
  p=$(basename "$f" .lease)
  if kill -0 "$p" 2>/dev/null; then exit 0; fi
  rm -f "$f"
done
for o in "$clusters"/*/owner; do
  [ -e "$o" ] || continue
  read pid start pgid keep < "$o"
  kill -TERM -"$pgid" 2>/dev/null
  i=0; while kill -0 -"$pgid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL -"$pgid" 2>/dev/null
done
if [ -n "$kind" ]; then
  "$runtime" ps -aq --filter "label=io.x-k8s.kind.cluster=$kind" | xargs -r "$runtime" rm -f -v >/dev/null
  rm -rf "$kindstate"
fi
rm -rf "$clusters" "$leases"
`

// reapedCluster says what a reaper removes: a simulated cluster's folder,
// or a kind cluster's node containers and state folder.
type reapedCluster struct {
	sim       string
	kind      string
	runtime   string
	kindState string
}

// writeCluster records rc beside the leases, for gc.
func writeCluster(leases string, rc reapedCluster) error {
	b, err := json.Marshal(map[string]string{"sim": rc.sim, "kind": rc.kind, "runtime": rc.runtime, "kindState": rc.kindState})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(leases, "cluster.json"), b, 0o600)
}

// startReaper starts a detached shell that cleans up after this process.
func startReaper(leases string, rc reapedCluster) error {
	cmd := exec.Command("sh", "-c", reaperScript, "kindredtest-reaper", strconv.Itoa(os.Getpid()), leases, rc.sim, rc.kind, rc.runtime, rc.kindState)
	proc.Detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cluster reaper: %w", err)
	}
	return cmd.Process.Release()
}
