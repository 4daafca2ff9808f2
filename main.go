// Command kindred turns one stack file into a production-shaped local
// Kubernetes environment. See README.md.
package main

import (
	"os"

	"kindred.dev/kindred/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv))
}
