#!/usr/bin/env bash
# Brings the embedded reference stack to ready on a simulated cluster with
# the catalogue's real upstream charts and manifests (../shared/upstream,
# or $KINDRED_UPSTREAM) as the chart mirror, runs it again and checks that
# every step is unchanged, shows status, and tears it down. Exits non-zero
# if any of it fails.
set -euo pipefail
kindred=${1:-./kindred}
upstream=${KINDRED_UPSTREAM:-$PWD/../shared/upstream}
if [ ! -f "$upstream/tigera-operator-v3.31.5.tgz" ]; then
  echo "demo-sim: the real upstream artifacts are not in $upstream (set KINDRED_UPSTREAM)" >&2
  exit 1
fi
export KINDRED_CHART_MIRROR=${KINDRED_CHART_MIRROR:-$upstream}
stack=stacks/default.yaml
trap '"$kindred" down --provider sim "$stack" -o text >/dev/null 2>&1 || true' EXIT
echo "== up"
"$kindred" up --provider sim -o text "$stack"
echo "== up again: every step must be unchanged"
out=$("$kindred" up --provider sim -o json "$stack")
echo "$out" | tail -1
if echo "$out" | grep -q '"changed":true'; then
  echo "demo-sim: the re-run changed something" >&2
  exit 1
fi
echo "== creds (masked)"
"$kindred" creds --provider sim --stack "$stack"
echo "== status"
"$kindred" status --provider sim -o json "$stack"
echo "== down"
"$kindred" down --provider sim -o text "$stack"
trap - EXIT
