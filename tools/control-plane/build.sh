#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd from Go modules into a cache
# outside the repository, keyed by version; a no-op when the binaries are already there.
# Safe when two builds start at once (flock). Prints the binary directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=$(cat "$here/VERSION")
CACHE_ROOT=${KOPF_CONTROL_PLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kopf-deno/control-plane}
bin="$CACHE_ROOT/v$KUBE_VERSION"
binaries=(kube-apiserver kube-controller-manager etcd)

have_all() { for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all; then echo "$bin"; exit 0; fi

command -v go >/dev/null || {
  echo "control-plane: Go is not installed; install Go >= 1.26 to build the control plane (the unit tests run without it)" >&2
  exit 2
}
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build-v$KUBE_VERSION.lock"
echo "control-plane: waiting for the build lock $CACHE_ROOT/.build-v$KUBE_VERSION.lock" >&2
flock 9
if have_all; then echo "$bin"; exit 0; fi   # another build finished while we waited

minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
done
tmp="$CACHE_ROOT/.tmp-v$KUBE_VERSION"
rm -rf "$tmp"; mkdir -p "$tmp"
cd "$here"
echo "control-plane: building Kubernetes v$KUBE_VERSION into $bin (the first build takes many minutes)" >&2
start=$(date +%s)
CGO_ENABLED=0 go build -mod=readonly -trimpath -tags selinux,notest,grpcnotrace \
  -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager ./cmd/etcd
# Publish atomically so a half-built directory never looks complete.
rm -rf "$bin"; mv "$tmp" "$bin"
echo "control-plane: built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
