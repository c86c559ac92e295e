#!/usr/bin/env bash
# The main job: a day of synthetic shop traffic through the real engine on the embedded
# SQLite store, with the reminders written as .eml files. From a fresh clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source tests/bootstrap.sh
mkdir -p demo-output
.venv/bin/cartrecovery simulate --store "sqlite:///demo-output/demo.db" --outbox demo-output/outbox "$@"
echo
.venv/bin/cartrecovery status --store "sqlite:///demo-output/demo.db" || true
