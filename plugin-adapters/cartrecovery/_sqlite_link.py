"""One SQLite in the process: hand the extension the libsqlite3 Python itself uses.

On Linux ``_core`` is built with its ``sqlite3_*`` symbols undefined
(CMake ``CARTRECOVERY_SQLITE_FROM_PYTHON``), so a wheel carries no SQLite of its own. Before
``_core`` is imported, this module imports Python's ``sqlite3`` (which loads its libsqlite3
privately, RTLD_LOCAL) and re-opens that very library with ``RTLD_NOLOAD | RTLD_GLOBAL``:
no second copy is loaded, the loaded one is only made visible to libraries opened later, and
``_core``'s symbols bind to it. Two copies in one process would break SQLite's POSIX locks
on a shared file (DESIGN "One SQLite in the process").
"""
from __future__ import annotations

import ctypes
import os
import sys


def _loaded_sqlite_paths() -> list[str]:
    # /proc/self/maps names every file mapped into the process, libraries included.
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            fields = (line.split(None, 5) for line in maps)
            paths = {f[5].strip() for f in fields if len(f) == 6}
    except OSError:
        return []
    return sorted(p for p in paths if "/libsqlite3" in p and ".so" in p)


def link_pythons_sqlite() -> str | None:
    """Make Python's loaded libsqlite3 global; returns its path (None off Linux, where
    ``_core`` links SQLite as usual). Raises ImportError saying what to do when Python has
    no sqlite3 module or no shared libsqlite3 to share."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import sqlite3  # noqa: F401  (loads libsqlite3, the copy _core must share)
    except ImportError as e:
        raise ImportError("cartrecovery needs Python's sqlite3 module (this Python was built "
                          "without it; on Debian/Ubuntu the python3 packages include it)") from e
    flags = getattr(os, "RTLD_NOLOAD", 4) | os.RTLD_GLOBAL | os.RTLD_NOW
    for path in _loaded_sqlite_paths():
        try:
            ctypes.CDLL(path, mode=flags)
            return path
        except OSError:
            continue
    # A Python whose _sqlite3 has SQLite compiled in (no shared libsqlite3 mapped): share
    # that copy when the module exports its symbols, else there is nothing safe to bind to.
    import _sqlite3
    try:
        lib = ctypes.CDLL(_sqlite3.__file__, mode=flags)
        lib.sqlite3_libversion  # raises AttributeError when the symbols are hidden
        return _sqlite3.__file__
    except (OSError, AttributeError):
        pass
    raise ImportError("cartrecovery shares the libsqlite3 of Python's sqlite3 module, but this "
                      "Python has SQLite compiled into its _sqlite3 module without exporting it; "
                      "use a Python linked to a shared libsqlite3 (Debian's, pyenv's, conda's) or "
                      "build cartrecovery from source with -DCARTRECOVERY_SQLITE_FROM_PYTHON=OFF")


LIBRARY = link_pythons_sqlite()
