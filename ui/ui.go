// Package ui is kindred's interactive terminal face, built on bubbletea. It
// only consumes the engine's events and starts runs; the same events feed
// the text and JSON renderers in package render.
//
// The progress page draws the plan as steps grouped by level, each with a
// spinner, then its outcome, elapsed time and current detail. Finished steps
// print above the live area, so the final screen reads like a log.
package ui

import (
	"time"

	"kindred.dev/kindred/pkg/event"
)

// EventMsg carries one engine event into the program.
type EventMsg struct{ Event event.Event }

// DoneMsg ends a run: its summary and error.
type DoneMsg struct {
	Summary event.Summary
	Err     error
}

// Clock returns the time; tests fix it so views are stable.
type Clock func() time.Time
