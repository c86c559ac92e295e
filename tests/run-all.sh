#!/usr/bin/env bash
# Every test: the C++ suites through CTest, then pytest against the built extension, then a
# check that the committed _core.pyi matches the compiled module. From a fresh clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARTRECOVERY_WITH_TESTS=1 source tests/bootstrap.sh

echo "== C++ (ctest)"
ctest --test-dir build --output-on-failure

echo "== release wheel (tools/build-wheel.sh into build/dist; tests/python/test_wheel.py loads it)"
# The Release build lives outside the clone and is synced file by file, so a run whose C++
# sources did not change rebuilds nothing; ccache covers the rest.
CARTRECOVERY_RELEASE_DIR="${CARTRECOVERY_RELEASE_DIR:-$HOME/.cache/cartrecovery/release}" \
  bash tools/build-wheel.sh build/dist

echo "== Python (pytest)"
.venv/bin/python -m pytest -q

echo "== Python (pytest) on PostgreSQL: the engine-level tests, each in a schema of its own"
# The store behind every engine is CARTRECOVERY_TEST_PG (default: the local server's `test`
# database, which .ci/run starts); adapters, browser and CLI layers above the engine run once.
CARTRECOVERY_TEST_STORE=postgresql .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/python/test_events.py tests/python/test_ingest.py tests/python/test_messages.py \
  tests/python/test_offers.py tests/python/test_experiments.py tests/python/test_flow_control.py \
  tests/python/test_playbooks.py tests/python/test_processes.py tests/python/test_reports.py \
  tests/python/test_report_exact.py tests/python/test_sales_alerts.py tests/python/test_shop_hooks.py \
  tests/python/test_worker.py tests/python/test_example_flows.py \
  tests/python/test_message_dates.py tests/python/test_coupon_codes.py tests/python/test_leads.py \
  tests/python/test_attribution.py tests/python/test_incentive_budget.py \
  tests/python/test_shop_templates.py tests/python/test_stage_flows.py tests/python/test_quiet_days.py \
  tests/python/test_cart_identity.py \
  tests/python/test_hostile_input.py tests/python/test_gil.py \
  tests/python/test_leases.py tests/python/test_batches.py tests/python/test_kill_loop.py \
  tests/python/test_pg_locks.py tests/python/test_pg_pipeline.py tests/python/test_pg_hot_updates.py \
  tests/python/test_render_ahead.py tests/python/test_smtp_connections.py \
  tests/python/test_retention.py tests/python/test_privacy.py tests/python/test_message_bodies.py \
  tests/python/test_worker_service.py \
  tests/python/test_cart_cap_processes.py

echo "== adapters on the oldest supported Django (4.2 LTS) and Flask (2.2)"
# The same built extension, imported from plugin-adapters by a second, small environment.
if [ ! -x .venv-compat/bin/python ]; then "${PYTHON:-python3}" -m venv .venv-compat; fi
.venv-compat/bin/python -m pip install -q --disable-pip-version-check \
  "django>=4.2,<4.3" "flask>=2.2,<2.3" "werkzeug<2.3" "pytest>=7" "aiosmtpd>=1.4"
PYTHONPATH=plugin-adapters .venv-compat/bin/python -m pytest -q -p no:cacheprovider \
  tests/python/test_django_adapter.py tests/python/test_flask_adapter.py tests/python/test_web.py \
  tests/python/test_dashboard.py

echo "== stubs (_core.pyi matches the module)"
tests/check-stubs.sh

echo "== fuzz (libFuzzer + ASan/UBSan on the core's parsers, ~25 s a target)"
# Bounded for CI; a longer run by hand: FUZZ_SECONDS=600 tests/fuzz/run.sh [target...]
FUZZ_SECONDS="${FUZZ_SECONDS:-25}" bash tests/fuzz/run.sh
