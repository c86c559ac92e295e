#!/usr/bin/env bash
# Sets up everything a fresh clone needs, idempotently: Debian packages, a virtual
# environment in .venv, and the build (core, _core extension, C++ tests) in build/.
# Sourced by tests/run-all.sh and examples/run-demo.sh; safe to run again (fast when done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEBIAN_PACKAGES=(cmake ninja-build g++ pkg-config python3-venv sqlite3 openssl tzdata
  libsqlite3-dev libpoco-dev libboost-test-dev libhowardhinnant-date-dev libpq-dev)
# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
[ "${CARTRECOVERY_WITH_TESTS:-0}" = 1 ] && DEBIAN_PACKAGES+=(chromium)
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
    "holidays>=0.50" \
    "django-oscar>=4.2,<5"  # tests/python/test_oscar.py: cartrecovery.contrib.oscar in a real oscar shop
fi

echo "bootstrap: building (cmake, $(nproc) jobs)"
export CARTRECOVERY_BUILD_DIR="$ROOT/build"
export CARTRECOVERY_BUILD_TESTS="${CARTRECOVERY_WITH_TESTS:-0}"
[ "$CARTRECOVERY_BUILD_TESTS" = 1 ] && CARTRECOVERY_BUILD_TESTS=ON || CARTRECOVERY_BUILD_TESTS=OFF
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation -e . 
