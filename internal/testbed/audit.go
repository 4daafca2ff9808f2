package testbed

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strings"
)

// AuditCount reads a simulated cluster's audit log (sim.WithAuditLog) from
// byte offset from, and counts the requests whose user agent starts with
// one of agents, by verb (get, list, watch, create, patch, ...). It
// returns the counts and the offset where the log ended, for the next
// count.
func AuditCount(path string, from int64, agents ...string) (map[string]int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, from, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, from, err
	}
	counts := map[string]int{}
	r := bufio.NewReaderSize(f, 1<<20)
	at := from
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // an unfinished last line is read next time
		}
		at += int64(len(line))
		var ev struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
		}
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		for _, a := range agents {
			if strings.HasPrefix(ev.UserAgent, a) {
				counts[ev.Verb]++
				break
			}
		}
	}
	return counts, at, nil
}
