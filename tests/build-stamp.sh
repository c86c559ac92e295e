#!/usr/bin/env bash
# Prints one hash of everything the native build depends on (paths, sizes and mtimes of the
# CMake files, the C++ sources, setup.py, pyproject.toml, the version file and
# tests/bootstrap.sh itself). tests/bootstrap.sh compares it with the hash it stored after
# its last successful build: equal means nothing to do, in a few milliseconds.
#   bash tests/build-stamp.sh [ROOT]
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"
inputs=()
for p in CMakeLists.txt setup.py pyproject.toml MANIFEST.in tests/bootstrap.sh cmake core bindings \
         tests/core tests/bench plugin-adapters/cartrecovery/_version.py; do
  [ -e "$p" ] && inputs+=("$p")
done
find "${inputs[@]}" -type f -printf '%p %s %T@\n' | LC_ALL=C sort | sha1sum | cut -d' ' -f1
