#!/usr/bin/env bash
# The test command of the README and CI: installs the pinned Deno if needed, builds and starts
# the real control plane when Go is available (else e2e tests are skipped, with a notice), runs
# every test once, stops the control plane, and ends with `deno: N passed, N failed`.
# Usage: tools/test.sh [deno test arguments, e.g. a path or --filter]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deno="$root/tools/deno"
"$deno" --version >/dev/null || exit 1

cluster_dir=""
stop_cluster() {
  if [ -n "$cluster_dir" ]; then
    "$deno" run -A tools/control-plane/cluster.ts down "$cluster_dir" >&2 || true
    cluster_dir=""
  fi
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

if [ -n "${KOPF_E2E_KUBECONFIG:-}" ]; then
  echo "test: using the control plane of KOPF_E2E_KUBECONFIG=$KOPF_E2E_KUBECONFIG" >&2
elif [ "${KOPF_E2E:-1}" = "0" ]; then
  echo "test: KOPF_E2E=0, end-to-end tests are skipped" >&2
elif ! command -v go >/dev/null; then
  echo "test: Go is not installed, so the real control plane cannot be built and end-to-end tests are skipped; install Go >= 1.26 to run them" >&2
else
  cluster_dir=$(mktemp -d /tmp/kopf-test-cluster.XXXXXX)
  if line=$("$deno" run -A tools/control-plane/cluster.ts up --dir "$cluster_dir"); then
    export KOPF_E2E_KUBECONFIG="${line#export KUBECONFIG=}"
    export KOPF_E2E=1
  else
    echo "test: the control plane did not start (see above); end-to-end tests will fail" >&2
    # Point the tests at the missing kubeconfig: they fail loudly instead of being skipped.
    export KOPF_E2E_KUBECONFIG="$cluster_dir/kubeconfig"
  fi
fi

log=$(mktemp)
if [ $# -eq 0 ]; then set -- --doc mod.ts testing.ts cli.ts lib/ tests/; fi
"$deno" test -A --parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Deno's summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (5s)".
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| ' | tail -n 1)
passed=$(sed -n 's/.*| \([0-9]*\) passed.*/\1/p' <<<"$summary")
failed=$(sed -n 's/.*| \([0-9]*\) failed.*/\1/p' <<<"$summary")
# No credential of the tests may appear in their output (counted as one more failed test).
if ! "$deno" run -A tools/secrets_check.ts "$log" "${KOPF_E2E_KUBECONFIG:-}"; then
  failed=$(( ${failed:-0} + 1 ))
  status=1
fi
rm -f "$log"
if [ -z "$passed" ]; then
  passed=0
  failed=${failed:-1}
fi
stop_cluster
echo "deno: ${passed} passed, ${failed:-0} failed"
exit "$status"
