package contour

import (
	"os"
	"strings"
	"testing"
)

// The test bed builds the Contour controller the package says it runs.
func TestControllerVersionMatchesTheTestBed(t *testing.T) {
	b, err := os.ReadFile("../../../testbed/contour/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "github.com/projectcontour/contour "+ControllerVersion+"\n") {
		t.Errorf("testbed/contour/go.mod does not require contour %s:\n%s", ControllerVersion, b)
	}
}
