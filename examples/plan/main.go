// Command plan loads a stack file with kindred's library and prints its
// steps by level: what `kindred plan` does, in a dozen lines.
package main

import (
	"errors"
	"fmt"
	"os"

	"kindred.dev/kindred/pkg/plan"
	"kindred.dev/kindred/pkg/stack"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: plan STACK")
		os.Exit(2)
	}
	st, err := stack.Load(os.Args[1])
	if err == nil {
		var p *plan.Plan
		if p, err = plan.Build(st); err == nil {
			for level, ids := range p.Levels {
				fmt.Println(level, ids)
			}
			return
		}
	}
	var problems stack.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p) // file:line:column: field: message
		}
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
