package helm

import (
	"context"
	"fmt"
	"path"
	"strings"

	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
)

// Expand renders each text as a template of rel's chart would be: with the
// chart's named templates (`include "mychart.server.fullname" .`), its
// values as rel sets them, and .Release. Catalogue checks name what a
// chart names through the release, so they follow a release name or a
// fullnameOverride as the chart does. Texts without "{{" come back as
// they are.
func (c *Client) Expand(ctx context.Context, rel Release, texts []string) ([]string, error) {
	out := make([]string, len(texts))
	copy(out, texts)
	var todo []int
	for i, t := range texts {
		if strings.Contains(t, "{{") {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	fetched, err := c.Fetcher.Fetch(ctx, rel.Chart)
	if err != nil {
		return nil, err
	}
	rendered, err := expand(fetched.Chart, rel, texts, todo)
	if err != nil {
		return nil, fmt.Errorf("naming what release %s made: %w", rel.Name, err)
	}
	for _, i := range todo {
		out[i] = strings.TrimSpace(rendered[i])
	}
	return out, nil
}

func expand(ch *chart.Chart, rel Release, texts []string, todo []int) (map[int]string, error) {
	// The chart's helpers only, and one template per text; subcharts and
	// the chart's own objects are not rendered.
	cp := *ch
	cp.Templates = nil
	for _, t := range ch.Templates {
		if strings.HasPrefix(path.Base(t.Name), "_") {
			cp.Templates = append(cp.Templates, t)
		}
	}
	name := func(i int) string { return fmt.Sprintf("templates/kindred-expand-%d.txt", i) }
	for _, i := range todo {
		cp.Templates = append(cp.Templates, &chartcommon.File{Name: name(i), Data: []byte(texts[i])})
	}
	cp.SetDependencies()
	vals, err := chartutil.ToRenderValuesWithSchemaValidation(&cp, rel.Values,
		chartcommon.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, IsInstall: true}, nil, true)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(&cp, vals)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, i := range todo {
		out[i] = files[cp.Name()+"/"+name(i)]
	}
	return out, nil
}
