#!/usr/bin/env bash
# Installs the release wheel into a fresh virtualenv inside a clean Debian 12 root (made by
# tools/make-clean-root.sh: Python 3.11 only, no Poco, libpq, date-tz or any -dev package)
# and runs README.md's "Using it" snippet there, with no network (bubblewrap, every
# namespace unshared). Prints the install time and what the snippet did. By hand, not CI.
#   bash tools/smoke-wheel.sh [WHEEL] [ROOT_DIR]   (default: the newest dist/*manylinux*.whl)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEEL="${1:-$(ls -t "$ROOT"/dist/cartrecovery-*manylinux*.whl 2>/dev/null | head -1)}"
CLEAN_ROOT="${2:-${CARTRECOVERY_CLEAN_ROOT:-$HOME/.cache/cartrecovery/clean-root}}"
[ -f "$WHEEL" ] || { echo "smoke-wheel: no wheel: run bash tools/build-wheel.sh first" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "smoke-wheel: bubblewrap is missing: apt-get install bubblewrap" >&2; exit 1; }
bash "$ROOT/tools/make-clean-root.sh" "$CLEAN_ROOT"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$WHEEL" "$WORK/"
# The README block as written, cut out of README.md (no copy of it lives here).
python3 - "$ROOT/README.md" "$WORK/snippet.py" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("\n## Using it\n", 1)[1]
open(sys.argv[2], "w").write(re.search(r"```python\n(.*?)^```", section, re.S | re.M).group(1))
PY
cat > "$WORK/inside.sh" <<'SH'
set -eu
echo "== the clean root: $(. /etc/os-release; echo "$PRETTY_NAME"), $(python3 --version)"
libs="$(ls /usr/lib/x86_64-linux-gnu /usr/lib /lib 2>/dev/null | grep -E '^lib(Poco|pq|date-tz)' || true)"
devs="$(dpkg-query -W -f='${Package}\n' | grep -E -- '-dev$|^libpoco|^libpq|^libhowardhinnant|^g\+\+|^gcc(-[0-9]+)?$|^cpp' || true)"
echo "   Poco/libpq/date-tz libraries on the system: ${libs:-none}; -dev packages and compilers: ${devs:-none}"
cd /tmp
t0=$(date +%s.%N)
python3 -m venv /tmp/venv
t1=$(date +%s.%N)
/tmp/venv/bin/pip install -q --no-index --disable-pip-version-check /smoke/*.whl
t2=$(date +%s.%N)
echo "== venv created in $(python3 -c "print(round($t1-$t0,2))") s, wheel installed in $(python3 -c "print(round($t2-$t1,2))") s"
mkdir -p /tmp/shop && cd /tmp/shop
echo "== README 'Using it' snippet"
SMTP_PASSWORD=smoke-test /tmp/venv/bin/python -X faulthandler - <<'PYEOF'
import pathlib
exec(compile(pathlib.Path("/smoke/snippet.py").read_text(), "README.md[Using it]", "exec"))
import cartrecovery as cr
engine = cr.Engine(store="sqlite:///recovery.db")
print("   cart c1:", engine.cart("c1")["state"], "| messages:", len(engine.messages(cart_id="c1")),
      "| cartrecovery", cr.__version__)
maps = pathlib.Path("/proc/self/maps").read_text().splitlines()
libs = sorted({l.split()[-1] for l in maps if ".so" in l.split()[-1]})
print("   libsqlite3 mapped:", [l for l in libs if "libsqlite3" in l])
print("   bundled libraries loaded:", len([l for l in libs if "cartrecovery.libs" in l]))
engine.close()
PYEOF
echo "== smoke test passed"
SH
bwrap --bind "$CLEAN_ROOT" / --proc /proc --dev /dev --tmpfs /tmp --ro-bind "$WORK" /smoke \
  --unshare-all --die-with-parent --clearenv --setenv PATH /usr/bin:/bin --setenv HOME /tmp \
  --setenv LANG C.UTF-8 /bin/sh /smoke/inside.sh
