"""The package as a shop installs it: one SQLite in the process, a private native module
behind an explicit __all__, shipped type information."""
import pathlib
import sqlite3

import cartrecovery as cr
from cartrecovery import _core


def _mapped_sqlite_libraries():
    maps = pathlib.Path("/proc/self/maps").read_text()
    return {line.split()[-1] for line in maps.splitlines() if "libsqlite3" in line}


def test_extension_shares_pythons_sqlite_library():
    # Python's sqlite3 module and the core must use one and the same libsqlite3: two
    # copies in one process break SQLite's POSIX locks (DESIGN "One SQLite in the process").
    sqlite3.connect(":memory:").execute("select 1")
    engine = cr.Engine(store=":memory:")
    engine.close()
    libs = _mapped_sqlite_libraries()
    assert len(libs) == 1, libs
    native = pathlib.Path(_core.__file__).read_bytes()
    assert b"sqlite3_open_v2" in native  # imported dynamically, not linked in statically
    assert b"SQLite format 3" not in native  # the amalgamation's header string is absent


def test_public_names_are_explicit_and_exist():
    for name in cr.__all__:
        assert hasattr(cr, name), name
    assert issubclass(cr.ValidationError, cr.Error) and issubclass(cr.ValidationError, ValueError)
    assert issubclass(cr.ConfigError, ValueError)
    assert issubclass(cr.QueueFullError, cr.StoreError)


def test_type_information_ships_with_the_package():
    pkg = pathlib.Path(cr.__file__).parent
    assert (pkg / "py.typed").exists()
    stub = (pkg / "_core.pyi").read_text()
    assert "class Engine" in stub and "def track(" in stub


def test_the_extension_takes_sqlite_from_python_not_from_a_library_of_its_own():
    # Built with CARTRECOVERY_SQLITE_FROM_PYTHON (Linux): no DT_NEEDED on libsqlite3, so a
    # wheel bundles none, and the symbols bind to what cartrecovery._sqlite_link made global.
    import subprocess
    import sys

    from cartrecovery import _sqlite_link

    dynamic = subprocess.run(["readelf", "-d", _core.__file__], capture_output=True, text=True,
                             check=True).stdout
    assert "libsqlite3" not in dynamic
    assert _sqlite_link.LIBRARY and "libsqlite3" in _sqlite_link.LIBRARY
    # Loaded on its own, without the package's __init__ (so without _sqlite_link), the
    # extension cannot resolve SQLite: it has no copy to fall back on.
    probe = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location("
             "'cartrecovery._core', sys.argv[1]); importlib.util.module_from_spec(spec)")
    r = subprocess.run([sys.executable, "-c", probe, _core.__file__], capture_output=True, text=True)
    assert r.returncode != 0 and "undefined symbol: sqlite3_" in r.stderr, r.stderr
