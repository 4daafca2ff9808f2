package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// What kindred env prints goes through eval in a shell: every value must
// come back byte for byte, and nothing in it may run.
func TestShellQuoteRoundTrips(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	for _, v := range []string{
		"postgres://kindred:pa55@orders.default.svc.cluster.local:5432/orders?sslmode=disable",
		"$(touch " + marker + ")",
		"`touch " + marker + "`",
		`it's "quoted" and \escaped\`,
		"'", "''", "a\nb", "$HOME ${HOME} $$", "",
	} {
		out, err := exec.Command("sh", "-c", `eval "$1"; printf %s "$V"`, "sh", "export V="+shellQuote(v)).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", v, err, out)
		}
		if string(out) != v {
			t.Errorf("%q came back as %q", v, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a quoted value ran a command under eval")
	}
}
