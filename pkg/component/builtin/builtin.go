// Package builtin registers every built-in component. The engine imports
// it, so a program that runs stacks has them all; the components'
// packages can be imported one by one instead.
package builtin

import (
	_ "kindred.dev/kindred/pkg/component/calico"
	_ "kindred.dev/kindred/pkg/component/certmanager"
	_ "kindred.dev/kindred/pkg/component/contour"
	_ "kindred.dev/kindred/pkg/component/database"
	_ "kindred.dev/kindred/pkg/component/job"
	_ "kindred.dev/kindred/pkg/component/mailpit"
	_ "kindred.dev/kindred/pkg/component/prometheus"
	_ "kindred.dev/kindred/pkg/component/tenant"
)
