// Package eventschema checks JSON lines against the published schema of
// kindred's event stream (pkg/event/events.schema.json), for tests.
package eventschema

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"kindred.dev/kindred/pkg/event"
)

// Check validates every non-empty line of out against the schema and
// returns how many lines it checked; the error names each bad line.
func Check(out []byte) (int, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event.JSONSchema))
	if err != nil {
		return 0, fmt.Errorf("the schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://kindred.dev/schema/events/v1.json"
	if err := c.AddResource(url, doc); err != nil {
		return 0, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return 0, fmt.Errorf("the schema: %w", err)
	}
	n := 0
	var bad []string
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err == nil {
			err = sch.Validate(v)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s\n  %v", line, err))
		}
	}
	if len(bad) > 0 {
		return n, fmt.Errorf("%d line(s) do not match the events schema:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	return n, nil
}
