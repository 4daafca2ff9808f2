package database

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kindred.dev/kindred/internal/testbed"
	api "kindred.dev/kindred/pkg/api/v1alpha1"
)

// The seed Job's script, run against real servers from Debian's packages
// on loopback, twice: the first run seeds, the second finds the seed
// recorded and skips it; a changed script runs again.
func TestIntegrationSeedScripts(t *testing.T) {
	const pw = "seed-Pa55word"
	for _, tc := range []struct {
		engine   string
		start    func(testing.TB, string) string
		env      string
		seed     string
		changed  string
		count    func(t *testing.T, addr string) string
		want     string
		wantMore string
	}{
		{api.EnginePostgres, testbed.StartPostgres, "PGPASSWORD",
			"CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY);\nINSERT INTO visits DEFAULT VALUES;\n",
			"INSERT INTO visits DEFAULT VALUES;\nINSERT INTO visits DEFAULT VALUES;\n",
			func(t *testing.T, addr string) string {
				host, port, _ := net.SplitHostPort(addr)
				return output(t, []string{"PGPASSWORD=" + pw}, "psql", "-h", host, "-p", port, "-U", "kindred", "-d", "orders", "-tAc", "SELECT count(*) FROM visits")
			}, "1", "3"},
		{api.EngineMySQL, testbed.StartMariaDB, "MYSQL_PWD",
			"CREATE TABLE IF NOT EXISTS visits (id INT AUTO_INCREMENT PRIMARY KEY);\nINSERT INTO visits VALUES ();\n",
			"INSERT INTO visits VALUES ();\nINSERT INTO visits VALUES ();\n",
			func(t *testing.T, addr string) string {
				host, port, _ := net.SplitHostPort(addr)
				return output(t, []string{"MYSQL_PWD=" + pw}, "mariadb", "--no-defaults", "-h", host, "-P", port, "-ukindred", "orders", "-N", "-e", "SELECT count(*) FROM visits")
			}, "1", "3"},
		{api.EngineRedis, testbed.StartRedis, "REDISCLI_AUTH",
			"INCR visits\n", "INCRBY visits 2\n",
			func(t *testing.T, addr string) string {
				host, port, _ := net.SplitHostPort(addr)
				return output(t, []string{"REDISCLI_AUTH=" + pw}, "redis-cli", "-h", host, "-p", port, "get", "visits")
			}, "1", "3"},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			addr := tc.start(t, pw)
			host, port, _ := net.SplitHostPort(addr)
			dir := t.TempDir()
			seed := func(content string) string {
				t.Helper()
				if err := os.WriteFile(filepath.Join(dir, "00-fixtures"), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				return output(t, []string{"HOST=" + host, "PORT=" + port, "DB=orders", "SEED_DIR=" + dir, tc.env + "=" + pw},
					"sh", "-c", seedScript(tc.engine))
			}
			if out := seed(tc.seed); !strings.Contains(out, "seeding:") {
				t.Fatalf("first run did not seed:\n%s", out)
			}
			if out := seed(tc.seed); !strings.Contains(out, "seeded before:") {
				t.Fatalf("second run seeded again:\n%s", out)
			}
			if got := tc.count(t, addr); got != tc.want {
				t.Fatalf("after seeding twice: %q, want %q", got, tc.want)
			}
			seed(tc.changed)
			if got := tc.count(t, addr); got != tc.wantMore {
				t.Errorf("after a changed script: %q, want %q", got, tc.wantMore)
			}
		})
	}
}

func seedScript(engine string) string {
	script, _ := engines[engine].seed()
	return script
}

func output(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}
