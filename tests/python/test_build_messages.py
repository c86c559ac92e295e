"""Building from source checks the system first: a missing library is named with the
packages that provide it on Debian/Ubuntu, Fedora and Homebrew, before any CMake output."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setup(*args, **env):
    return subprocess.run([sys.executable, "setup.py", "-q", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_this_machine_has_everything():
    r = _setup("check_system", CARTRECOVERY_PROBE_MISSING="")
    assert r.returncode == 0, r.stderr
    assert "every system library the build needs is present" in r.stdout


def test_a_missing_library_names_the_package_for_each_system():
    r = _setup("check_system", CARTRECOVERY_PROBE_MISSING="poco")
    assert r.returncode == 1
    assert "Poco (Foundation, Net, NetSSL, Crypto, JSON, Util)" in r.stderr
    assert "sudo apt-get install libpoco-dev" in r.stderr
    assert "sudo dnf install poco-devel" in r.stderr
    assert "brew install poco" in r.stderr
    assert "libpq" not in r.stderr and "sqlite" not in r.stderr.lower()  # only what is missing


def test_a_library_pkg_config_cannot_find_is_really_probed(tmp_path):
    # No .pc files: libpq's header (in /usr/include/postgresql on Debian) is no longer on the
    # compiler's search path, so the real probe fails; the headers in /usr/include still pass.
    r = _setup("check_system", CARTRECOVERY_PROBE_MISSING="", PKG_CONFIG_LIBDIR=str(tmp_path),
               PKG_CONFIG_PATH="")
    assert r.returncode == 1, r.stdout
    assert "libpq (PostgreSQL client)" in r.stderr
    assert "libpq-dev" in r.stderr and "libpq-devel" in r.stderr and "brew install libpq" in r.stderr
    assert "libpoco-dev" not in r.stderr


def test_no_compiler_is_named_too():
    r = _setup("check_system", CARTRECOVERY_PROBE_MISSING="", CXX="/nonexistent/c++")
    assert r.returncode == 1
    assert "a C++17 compiler" in r.stderr and "g++" in r.stderr and "gcc-c++" in r.stderr


def test_the_build_stops_at_the_probe_before_cmake(tmp_path):
    build = tmp_path / "build"
    r = _setup("build_ext", "--build-temp", str(tmp_path / "tmp"), CARTRECOVERY_PROBE_MISSING="date",
               CARTRECOVERY_BUILD_DIR=str(build))
    assert r.returncode != 0
    assert "libhowardhinnant-date-dev" in r.stderr and "date-devel" in r.stderr
    assert "howard-hinnant-date" in r.stderr
    assert "CMake" not in r.stderr + r.stdout and not (build / "CMakeCache.txt").exists()
