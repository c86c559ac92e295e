#!/usr/bin/env bash
# Installs what bench_fire.py's peers need (Django, Huey, Celery, the Redis client) into the
# project's .venv, checks the local PostgreSQL and Redis, then runs the firing benchmark.
# Arguments go to bench_fire.py, e.g.  bash tests/bench/run-fire.sh --out fire.json
# The extension must be built first (tests/bootstrap.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run-fire: no .venv; run tests/bootstrap.sh first" >&2; exit 2; }
"$PY" -m pip install -q --disable-pip-version-check -r tests/bench/requirements-fire.txt
redis-cli ping >/dev/null 2>&1 || { echo "run-fire: no Redis on 127.0.0.1:6379 (the Celery row needs it)" >&2; }
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "run-fire: no PostgreSQL on 127.0.0.1:5432 (the pg rows need it)" >&2; }
exec "$PY" tests/bench/bench_fire.py "$@"
