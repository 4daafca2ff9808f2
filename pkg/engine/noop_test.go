package engine_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/pkg/sim"
)

// auditEntry is what a test reads of one API server audit event.
type auditEntry struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	ObjectRef  struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
}

// ownRequests reads the audit log from byte offset from and returns the
// requests this test binary made, and the offset where the log ended.
func ownRequests(t *testing.T, path string, from int64) ([]auditEntry, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		t.Fatal(err)
	}
	self := filepath.Base(os.Args[0])
	var out []auditEntry
	r := bufio.NewReaderSize(f, 1<<20)
	at := from
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break
		}
		at += int64(len(line))
		var e auditEntry
		if json.Unmarshal(line, &e) == nil && strings.HasPrefix(e.UserAgent, self+"/") {
			out = append(out, e)
		}
	}
	return out, at
}

// A re-run with nothing to do writes nothing but its lock, asks the
// server for no dry run, reads the steps it checks ahead of their turn
// from the API server's watch cache, and reads each of their objects
// once.
func TestIntegrationNoOpReadsOnly(t *testing.T) {
	f := newFixture(t, sim.WithAuditLog())
	st := load(t, refStack, nil)
	if _, err := f.up(st); err != nil {
		t.Fatalf("cold up: %v", err)
	}
	_, from := ownRequests(t, f.sim.AuditLog, 0)
	got, err := f.up(st)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	expect(t, got, allSteps("unchanged", append(refSteps, "cluster", "prune")...))
	reqs, _ := ownRequests(t, f.sim.AuditLog, from)

	cached, objectReads := 0, map[string]int{}
	for _, e := range reqs {
		switch e.Verb {
		case "get", "list", "watch":
		default:
			if e.ObjectRef.Resource != "leases" {
				t.Errorf("a no-op run wrote: %s %s", e.Verb, e.RequestURI)
			}
			continue
		}
		if strings.Contains(e.RequestURI, "dryRun") {
			t.Errorf("a no-op run asked for a dry run: %s %s", e.Verb, e.RequestURI)
		}
		if strings.Contains(e.RequestURI, "resourceVersion=0") {
			cached++
		}
		if e.Verb == "get" && e.ObjectRef.Namespace != "" && e.ObjectRef.Namespace != "kindred-system" && e.ObjectRef.Resource != "secrets" {
			objectReads[e.ObjectRef.Resource+" "+e.ObjectRef.Namespace+"/"+e.ObjectRef.Name]++
		}
	}
	if cached == 0 {
		t.Error("no read of the no-op run came from the API server's watch cache")
	}
	for obj, n := range objectReads {
		if n > 1 {
			t.Errorf("%s was read %d times", obj, n)
		}
	}
	t.Logf("%d requests, %d from the watch cache, %d objects read", len(reqs), cached, len(objectReads))
}
