#!/usr/bin/env bash
# Sets up everything a fresh clone needs, idempotently: Debian packages, a virtual
# environment in .venv, and the build (core, _core extension, C++ tests) in build/.
# Sourced by tests/run-all.sh and examples/run-demo.sh; safe to run again (fast when done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Already built? The stamp written after the last successful build holds a hash of every
# build input (tests/build-stamp.sh: paths, sizes, mtimes) and whether the C++ tests were
# built; equal means there is nothing to do, checked in milliseconds instead of asking pip.
STAMP_FILE="$ROOT/build/.bootstrap-stamp"
_cr_want_tests="${CARTRECOVERY_WITH_TESTS:-0}"
_cr_stamp="$(bash tests/build-stamp.sh "$ROOT")"
if [ -f "$STAMP_FILE" ] && [ -x .venv/bin/python ] \
   && compgen -G "plugin-adapters/cartrecovery/_core*.so" >/dev/null \
   && { [ "$(cat "$STAMP_FILE")" = "$_cr_stamp tests=1" ] \
        || [ "$(cat "$STAMP_FILE")" = "$_cr_stamp tests=$_cr_want_tests" ]; }; then
  echo "bootstrap: up to date (sources unchanged since the last build)"
  return 0 2>/dev/null || exit 0
fi

DEBIAN_PACKAGES=(cmake ninja-build g++ pkg-config python3-venv sqlite3 openssl tzdata
  libsqlite3-dev libpoco-dev libboost-test-dev libhowardhinnant-date-dev libpq-dev liblz4-dev)
# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
[ "${CARTRECOVERY_WITH_TESTS:-0}" = 1 ] && DEBIAN_PACKAGES+=(chromium)
# The libFuzzer targets (tests/fuzz/run.sh) need clang and its sanitizer runtimes.
[ "${CARTRECOVERY_WITH_TESTS:-0}" = 1 ] && DEBIAN_PACKAGES+=(clang libclang-rt-14-dev)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "pybind11>=2.12" "setuptools>=64" wheel
# The example shops (the README's main command) need Flask and an SMTP sink.
.venv/bin/python -m pip install -q --disable-pip-version-check "flask>=2.2" "aiosmtpd>=1.4"
if [ "${CARTRECOVERY_WITH_TESTS:-0}" = 1 ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check \
    "pytest>=7" "aiosmtpd>=1.4" "django>=4.2" "pybind11-stubgen>=2.5" "flask>=2.2" "playwright>=1.40" \
    "http-ece>=1.1" "cryptography>=41" "pandas>=1.5" "matplotlib>=3.6" nbclient nbformat ipykernel \
    "holidays>=0.50" "redis>=4.5" \
    "django-oscar>=4.2,<5" "hypothesis>=6.80" \
    "django-salesman>=1.3,<2"  # test_oscar.py, test_salesman.py: the contrib apps in real shops (both on Django 5.x)
fi

echo "bootstrap: building (cmake, $(nproc) jobs; a first build takes a few minutes)"
export CARTRECOVERY_BUILD_DIR="$ROOT/build"
export CARTRECOVERY_BUILD_TESTS="${CARTRECOVERY_WITH_TESTS:-0}"
[ "$CARTRECOVERY_BUILD_TESTS" = 1 ] && CARTRECOVERY_BUILD_TESTS=ON || CARTRECOVERY_BUILD_TESTS=OFF
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
# Debug information for the developer's build (setup.py's own default is Release).
export CMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}"
# pip hides a build's output unless -v; the full log goes to a file and the compiler steps
# (ninja's "[n/N] Building CXX object ...") to the terminal, so a long build is never silent.
mkdir -p build
_cr_log="$ROOT/build/bootstrap-build.log"
set +e
.venv/bin/python -m pip install -v --disable-pip-version-check --no-build-isolation -e . 2>&1 \
  | tee "$_cr_log" | grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\] |error:|cannot be built from source|^  [-] |^  (Debian|Fedora|macOS)'
_cr_rc=${PIPESTATUS[0]}
set -e
if [ "$_cr_rc" -ne 0 ]; then
  tail -n 30 "$_cr_log"
  echo "bootstrap: the build failed (full log: $_cr_log)" >&2
  exit "$_cr_rc"
fi
echo "$_cr_stamp tests=$_cr_want_tests" > "$STAMP_FILE"
echo "bootstrap: built"
