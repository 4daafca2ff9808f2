package provider

import (
	"errors"
	"testing"
	"time"

	"kindred.dev/kindred/pkg/internal/clusterapi"
	"kindred.dev/kindred/pkg/internal/registry"
)

func TestSummarizePrefetch(t *testing.T) {
	res := []registry.Fetched{
		{Image: "docker.io/library/postgres:16", Cache: "kindred-cache-docker.io", Held: true},
		{Image: "docker.io/library/redis:7.4", Cache: "kindred-cache-docker.io"},
		{Image: "docker.io/team/app:1", Cache: "kindred-cache-docker.io", Unanswered: true},
		{Image: "ghcr.io/team/tool:2"},
		{Image: "docker.io/team/gone:1", Cache: "kindred-cache-docker.io", Err: errors.New("manifest unknown")},
	}
	for _, c := range []struct {
		o    clusterapi.Preload
		want string
	}{
		{clusterapi.Preload{Layers: true, TagTTL: 24 * time.Hour},
			"caches warmed with 3 of 5 images; 1 held, their tags asked upstream less than 24h ago; 1 as the caches hold them: the upstream did not answer; 1 from registries with no cache; not warmed: docker.io/team/gone:1 (manifest unknown)"},
		{clusterapi.Preload{TagTTL: 90 * time.Minute},
			"caches know the tags of 3 of 5 images (layers not fetched); 1 held, their tags asked upstream less than 1h30m ago; 1 as the caches hold them: the upstream did not answer; 1 from registries with no cache; not warmed: docker.io/team/gone:1 (manifest unknown)"},
	} {
		if got := summarizePrefetch(res, c.o); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 30 * time.Minute: "30m", 90 * time.Second: "1m30s", 0: "0s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
