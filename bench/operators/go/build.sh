#!/usr/bin/env bash
# Builds the controller-runtime benchmark operator into a cache outside the repository, keyed by
# the hash of go.sum, main.go and this script; a no-op when that binary is already there.
# Safe when two builds run at once (each builds into its own temp file and renames it).
# Progress goes to stderr; the last line on stdout is the binary's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

key=$(cat go.sum main.go build.sh | sha256sum | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/kopf-deno/bench/go-operator-$key"
bin="$dir/bench-operator"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || {
  echo "go-operator: Go is not installed; install Go >= 1.26 to build the Go benchmark operator" >&2
  exit 2
}
mkdir -p "$dir"
tmp=$(mktemp "$dir/.bench-operator.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "go-operator: building $bin (the first build takes minutes)" >&2
start=$(date +%s)
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp" .
chmod 755 "$tmp"
mv -f "$tmp" "$bin"   # atomic: a half-written binary is never at $bin
echo "go-operator: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
