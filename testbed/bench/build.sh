#!/usr/bin/env bash
# Builds the benchmark's peers, the helm v4 CLI and helmfile, from the Go
# module proxy into a cache folder keyed by version. Prints the folder.
# helmfile takes about 10 minutes the first time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
modver() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }
HELM=$(modver helm helm.sh/helm/v4)
HELMFILE=$(modver helmfile github.com/helmfile/helmfile)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/kindred/bench/helm-${HELM}_helmfile-${HELMFILE}"
mkdir -p "$dir"
if [ ! -x "$dir/helm" ]; then
  echo "building helm $HELM" >&2
  (cd "$here/helm" && go build -ldflags "-s -w" -o "$dir/helm.tmp" helm.sh/helm/v4/cmd/helm) && mv "$dir/helm.tmp" "$dir/helm"
fi
if [ ! -x "$dir/helmfile" ]; then
  echo "building helmfile $HELMFILE" >&2
  (cd "$here/helmfile" && go build -ldflags "-s -w" -o "$dir/helmfile.tmp" github.com/helmfile/helmfile) && mv "$dir/helmfile.tmp" "$dir/helmfile"
fi
echo "$dir"
