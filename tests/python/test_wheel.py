"""The release wheel (tools/build-wheel.sh; tests/run-all.sh builds it into build/dist) loads
with only the libraries it bundles: imported from the unpacked wheel alone, its extension maps
no Poco, libpq, date-tz or OpenSSL of the system, only its own copies and the few libraries
every manylinux system has, and the one libsqlite3 is Python's. Skipped when no wheel was
built (CARTRECOVERY_WHEEL names one explicitly)."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _wheel():
    if os.environ.get("CARTRECOVERY_WHEEL"):
        return Path(os.environ["CARTRECOVERY_WHEEL"])
    found = sorted((ROOT / "build/dist").glob("cartrecovery-*manylinux*.whl"),
                   key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


WHEEL = _wheel()
pytestmark = pytest.mark.skipif(WHEEL is None, reason="no wheel built (bash tools/build-wheel.sh build/dist)")

_PROBE = r"""
import json, sys, pathlib
# Python's own modules (and the system libraries they link) are mapped before the snapshot.
import ctypes, decimal, hashlib, hmac, secrets, sqlite3, ssl, uuid, zlib  # noqa
def libs():
    maps = pathlib.Path("/proc/self/maps").read_text().splitlines()
    return {l.split()[-1] for l in maps if ".so" in l.split()[-1]}
before = libs()
sys.path.insert(0, sys.argv[1])
import cartrecovery as cr
assert cr.__file__.startswith(sys.argv[1]), cr.__file__
engine = cr.Engine(store="sqlite:///" + sys.argv[2])
engine.track("cart_updated", cart_id="c1", currency="EUR",
             items=[{"sku": "KITE-1", "price": "39.90", "quantity": 1}])
engine.flush()
import sqlite3
rows = sqlite3.connect(sys.argv[2]).execute("select count(*) from sqlite_master").fetchone()[0]
state = engine.cart("c1")["state"]
engine.close()
print(json.dumps({"before": sorted(before), "after": sorted(libs()), "tables": rows, "state": state}))
"""

# What every manylinux system provides (auditwheel's policy list, the part this extension uses).
SYSTEM_OK = ("libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "libpthread.so", "libdl.so",
             "librt.so", "ld-linux", "libresolv.so", "libnss_", "libz.so",
             "libexpat.so")  # in manylinux_2_35: Poco XML takes the system one


def test_the_wheel_carries_no_sqlite_and_a_manylinux_tag():
    names = zipfile.ZipFile(WHEEL).namelist()
    assert "manylinux" in WHEEL.name and "-cp311-" in WHEEL.name
    assert any(n.startswith("cartrecovery.libs/libPocoNet") for n in names), names
    assert any(n.startswith("cartrecovery.libs/libpq") for n in names)
    assert not [n for n in names if "sqlite" in n.lower() and n.endswith(tuple(".so" + s for s in ("", ".0")))]
    assert "cartrecovery/py.typed" in names and "cartrecovery/_core.pyi" in names


def test_the_extension_loads_with_only_its_bundled_libraries(tmp_path):
    unpacked = tmp_path / "site"
    zipfile.ZipFile(WHEEL).extractall(unpacked)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    r = subprocess.run([sys.executable, "-I", "-c", _PROBE, str(unpacked), str(tmp_path / "r.db")],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state"] == "active" and out["tables"] > 0
    new = set(out["after"]) - set(out["before"])
    foreign = [lib for lib in new if not lib.startswith(str(unpacked))
               and not any(ok in Path(lib).name for ok in SYSTEM_OK)
               and "lib-dynload" not in lib and "libsqlite3" not in lib
               and "libpython" not in lib]
    assert not foreign, f"system libraries the wheel should have bundled: {foreign}"
    for bundled in ("libPocoNet", "libpq", "libssl"):  # the wheel's copies, not the system's
        assert any("cartrecovery.libs" in lib and bundled in lib for lib in new), (bundled, new)
    sqlite_libs = [lib for lib in out["after"] if "libsqlite3" in lib]
    assert len(sqlite_libs) == 1, sqlite_libs  # Python's, shared (no second SQLite)
