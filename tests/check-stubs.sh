#!/usr/bin/env bash
# Regenerates the _core stubs and compares them with the committed file.
# With --write, updates the committed file instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
.venv/bin/pybind11-stubgen cartrecovery._core -o "$out" --numpy-array-use-type-var >/dev/null 2>&1 \
  || .venv/bin/pybind11-stubgen cartrecovery._core -o "$out" >/dev/null
generated="$out/cartrecovery/_core.pyi"
committed="plugin-adapters/cartrecovery/_core.pyi"
if [ "${1:-}" = "--write" ]; then
  cp "$generated" "$committed"
  echo "wrote $committed"
elif diff -u "$committed" "$generated"; then
  echo "stubs match"
else
  echo "the committed $committed differs from the compiled module: run tests/check-stubs.sh --write" >&2
  exit 1
fi
