package job

import (
	"testing"

	"kindred.dev/kindred/internal/golden"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// TestJobGolden pins what kindred renders for a one-off Job and a CronJob.
func TestJobGolden(t *testing.T) {
	for name, j := range map[string]*api.Job{
		"job.yaml":     {Name: "fixtures", Namespace: "default", Image: "localhost:5001/loader:dev", Command: []string{"load"}, Env: map[string]string{"B": "2", "A": "1"}},
		"cronjob.yaml": {Name: "ingest", Namespace: "batch", Image: "localhost:5001/ingest:dev", Schedule: "*/30 * * * *", BackoffLimit: 2},
	} {
		t.Run(name, func(t *testing.T) {
			objs, err := jobObjects(j)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckYAML(t, name, objs)
		})
	}
}
