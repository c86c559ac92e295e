#!/usr/bin/env bash
# The main job: the example Kite Shop (Flask) on the embedded SQLite store, with a local SMTP
# sink and demo time (a cart left alone for 30 s is abandoned, its reminder follows 10 s
# later). Open http://127.0.0.1:5000, put something in the cart, type an e-mail at checkout,
# walk away, and watch /mails. From a fresh clone; Ctrl-C stops it.
# `bash examples/run-demo.sh simulate` instead replays a day of synthetic traffic.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source tests/bootstrap.sh
mkdir -p demo-output
if [ "${1:-}" = "simulate" ]; then
  shift
  # The replay runs on its own clock (March 2026); its summary ends with the scheduler's
  # health at the replay's end. (`cartrecovery status` would judge it by today's date.)
  exec .venv/bin/cartrecovery simulate --store "sqlite:///demo-output/demo.db" --outbox demo-output/outbox "$@"
fi
exec .venv/bin/python examples/flask_shop/app.py --store "sqlite:///demo-output/kite-shop.db" "$@"
