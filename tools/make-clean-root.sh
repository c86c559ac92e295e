#!/usr/bin/env bash
# A minimal Debian 12 root filesystem in a folder, for tools/smoke-wheel.sh: Python 3.11,
# venv and nothing else (no compiler, no Poco, no libpq, no date-tz, no -dev packages), the
# way a shop's fresh server or container starts. Made once with debootstrap and cached: a
# second run returns at once. By hand, not CI (debootstrap takes several minutes).
#   bash tools/make-clean-root.sh [ROOT_DIR]     (default ~/.cache/cartrecovery/clean-root)
# Needs root (debootstrap); DEBIAN_MIRROR overrides debootstrap's default mirror.
set -euo pipefail
ROOT_DIR="${1:-${CARTRECOVERY_CLEAN_ROOT:-$HOME/.cache/cartrecovery/clean-root}}"
if [ -f "$ROOT_DIR/.cartrecovery-clean-root" ]; then
  echo "make-clean-root: $ROOT_DIR is ready (cached; remove it to make it again)"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  echo "make-clean-root: debootstrap is missing: apt-get install debootstrap" >&2
  exit 1
fi
# Built beside the final folder and renamed at the end, so an interrupted run never leaves a
# half-made root that the next run would take for a finished one.
TMP_DIR="$ROOT_DIR.partial"
rm -rf "$TMP_DIR"
mkdir -p "$(dirname "$ROOT_DIR")"
start=$(date +%s)
# python3-venv brings ensurepip (pip inside a fresh venv); nothing else is added to minbase.
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$TMP_DIR" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"}
rm -rf "$TMP_DIR/var/cache/apt/archives/"*.deb
date -u +%FT%TZ > "$TMP_DIR/.cartrecovery-clean-root"
rm -rf "$ROOT_DIR"
mv "$TMP_DIR" "$ROOT_DIR"
echo "make-clean-root: $ROOT_DIR made in $(( $(date +%s) - start )) s"
