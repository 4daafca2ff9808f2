//go:build tools

// Package tools pins the Contour controller the simulated cluster runs
// (make testbed builds github.com/projectcontour/contour/cmd/contour).
package tools

import _ "github.com/projectcontour/contour/cmd/contour"
