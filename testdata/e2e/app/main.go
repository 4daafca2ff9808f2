// Command app is the real-kind tests' workload, built into an image by the
// test and pushed to kindred's local registry. "app serve" records each
// start in /data/starts (a PersistentVolume) and serves that record over
// HTTP; "app get URL" fetches URL and fails unless the record is there, so a
// Job running it proves DNS, the Service and pod networking.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: app serve | app get URL")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "get":
		err = get(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

const record = "/data/starts"

func serve() error {
	host, _ := os.Hostname()
	f, err := os.OpenFile(record, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "start %s %s\n", host, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(record)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	return http.ListenAndServe(":8080", nil)
}

func get(url string) error {
	var last error
	for range 30 {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), "start ") {
				fmt.Print(string(b))
				return nil
			}
			err = fmt.Errorf("%s: %s: %q", url, resp.Status, b)
		}
		last = err
		time.Sleep(2 * time.Second)
	}
	return last
}
