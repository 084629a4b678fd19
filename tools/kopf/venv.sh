#!/usr/bin/env bash
# Makes (once) a Python venv with Kopf 1.45.2 from the package index, for the interoperability
# tests and benchmarks that run Python Kopf as a peer, and prints its `kopf` executable's path.
# Cached outside the repo; safe when two runs start at once (a lock); needs python3 with venv.
set -euo pipefail

KOPF_VERSION="${KOPF_PEER_VERSION:-1.45.2}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kopf-deno"
venv="$cache/kopf-venv-$KOPF_VERSION"
mkdir -p "$cache"

# The marker is written last: a venv without it is half-made (an interrupted run) and redone.
if [ ! -f "$venv/.complete" ]; then
  command -v python3 >/dev/null || {
    echo "kopf-venv: python3 is missing: install Python 3.10+ with venv to run Kopf as a peer" >&2
    exit 1
  }
  exec 9>"$cache/kopf-venv.lock"
  flock 9
  if [ ! -f "$venv/.complete" ]; then
    echo "kopf-venv: installing kopf==$KOPF_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kopf==$KOPF_VERSION" >&2
    touch "$venv/.complete"
  fi
fi
echo "$venv/bin/kopf"
