#!/usr/bin/env bash
# Every test: the C++ suites through CTest, then pytest against the built extension, then a
# check that the committed _core.pyi matches the compiled module. From a fresh clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARTRECOVERY_WITH_TESTS=1 source tests/bootstrap.sh

echo "== C++ (ctest)"
ctest --test-dir build --output-on-failure

echo "== Python (pytest)"
.venv/bin/python -m pytest -q

echo "== stubs (_core.pyi matches the module)"
tests/check-stubs.sh
