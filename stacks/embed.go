// Package stacks embeds kindred's data: the catalogue of built-in components
// (catalog/*.yaml) and the example stacks (*.yaml). Behaviour lives in Go
// under pkg/; these files only describe what to install and how to tell it
// is ready.
package stacks

import "embed"

// FS holds catalog/*.yaml and the example stacks.
//
//go:embed catalog/*.yaml *.yaml demo
var FS embed.FS

// Default is the name of the reference stack in FS.
const Default = "default.yaml"
