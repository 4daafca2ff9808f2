package ui

import "charm.land/lipgloss/v2"

// styles are the looks the pages share, built once and passed down.
type styles struct {
	title, level, ok, unchanged, failed, skipped, dim, help lipgloss.Style
}

func newStyles(color bool) styles {
	if !color {
		plain := lipgloss.NewStyle()
		return styles{plain, plain, plain, plain, plain, plain, plain, plain}
	}
	return styles{
		title:     lipgloss.NewStyle().Bold(true),
		level:     lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		ok:        lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		unchanged: lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		failed:    lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		skipped:   lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		dim:       lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		help:      lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
	}
}
