# A thin CMake build: `pip install .` and `pip install -e .` configure the top-level
# CMakeLists.txt and build the _core extension into the package (pybind11's cmake_example).
# Before CMake runs, the system libraries are probed, and a missing one is named with the
# package that provides it on Debian/Ubuntu, Fedora and Homebrew (`python setup.py
# check_system` runs the probe alone).
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Command, Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
VERSION = re.search(r'^__version__ = "([^"]+)"',
                    (ROOT / "plugin-adapters/cartrecovery/_version.py").read_text(), re.M).group(1)

# What the build needs from the system: (name, how to find it, Debian/Ubuntu, Fedora, Homebrew).
# A probe is a header compiled through the real compiler (so its search paths, CPATH and
# pkg-config's flags count), or a program on PATH.
REQUIREMENTS = [
    ("cmake (3.21 or newer)", ("program", "cmake"), "cmake", "cmake", "cmake"),
    ("a C++17 compiler", ("compiler", None), "g++", "gcc-c++", "xcode-select --install"),
    ("SQLite", ("header", "sqlite3.h", "sqlite3"), "libsqlite3-dev", "sqlite-devel", "sqlite"),
    ("Poco (Foundation, Net, NetSSL, Crypto, JSON, Util)",
     ("header", "Poco/Net/NetSSL.h", None),
     "libpoco-dev", "poco-devel", "poco"),
    ("OpenSSL", ("header", "openssl/ssl.h", "openssl"), "libssl-dev", "openssl-devel", "openssl@3"),
    ("libpq (PostgreSQL client)", ("header", "libpq-fe.h", "libpq"),
     "libpq-dev", "libpq-devel", "libpq"),
    ("lz4", ("header", "lz4.h", "liblz4"), "liblz4-dev", "lz4-devel", "lz4"),
    ("date/tz (Howard Hinnant's date)", ("header", "date/tz.h", None),
     "libhowardhinnant-date-dev", "date-devel", "howard-hinnant-date"),
]


def _compiler():
    """The compiler command (CXX or the usual names) when it can run, else None."""
    cxx = os.environ.get("CXX") or "c++"
    if shutil.which(cxx.split()[0]):
        return cxx
    return None if os.environ.get("CXX") else (shutil.which("g++") or shutil.which("clang++"))


def _pkg_config_cflags(module):
    if not module or not shutil.which("pkg-config"):
        return []
    r = subprocess.run(["pkg-config", "--cflags", module], capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else []


def _prefix_include_flags():
    # Homebrew and CMAKE_PREFIX_PATH prefixes are not on the compiler's default search path.
    prefixes = [p for p in os.environ.get("CMAKE_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes += [os.environ.get("HOMEBREW_PREFIX", ""), "/opt/homebrew", "/usr/local"]
    return [f"-I{p}/include" for p in prefixes if p and os.path.isdir(f"{p}/include")]


def _found(probe):
    kind = probe[0]
    if kind == "program":
        return shutil.which(probe[1]) is not None
    cxx = _compiler()
    if kind == "compiler":
        return cxx is not None
    if cxx is None:
        return True  # the compiler line already says what is missing
    _, header, pc_module = probe
    cmd = [*cxx.split(), "-std=c++17", "-E", "-x", "c++", "-", "-o", os.devnull,
           *_pkg_config_cflags(pc_module), *_prefix_include_flags()]
    r = subprocess.run(cmd, input=f"#include <{header}>\n", capture_output=True, text=True)
    return r.returncode == 0


def missing_requirements():
    """The REQUIREMENTS rows this system lacks. CARTRECOVERY_PROBE_MISSING (comma-separated
    words, e.g. "poco") marks rows as missing for testing the message without uninstalling."""
    pretend = [w.strip().lower() for w in os.environ.get("CARTRECOVERY_PROBE_MISSING", "").split(",")
               if w.strip()]
    with ThreadPoolExecutor() as pool:  # each header probe is a compiler run: in parallel
        found = list(pool.map(lambda row: _found(row[1]), REQUIREMENTS))
    return [row for row, ok in zip(REQUIREMENTS, found)
            if any(w in row[0].lower() for w in pretend) or not ok]


def explain_missing(rows):
    lines = ["cartrecovery cannot be built from source: these system libraries or tools are missing:"]
    lines += [f"  - {row[0]}" for row in rows]
    lines += ["Install them, then run pip again:",
              "  Debian/Ubuntu: sudo apt-get install " + " ".join(r[2] for r in rows),
              "  Fedora:        sudo dnf install " + " ".join(r[3] for r in rows)]
    brew = " ".join(r[4] for r in rows if " " not in r[4])
    mac = ([f"brew install {brew}"] if brew else []) + [r[4] for r in rows if " " in r[4]]
    lines += [f"  macOS:         {cmd}" for cmd in mac]
    lines += ["(Or install a prebuilt wheel, which needs none of them: pip install --only-binary "
              ":all: cartrecovery.)"]
    return "\n".join(lines)


def check_system():
    rows = missing_requirements()
    if rows:
        sys.stderr.write(explain_missing(rows) + "\n")
        raise SystemExit(1)


class CheckSystem(Command):
    description = "check for the system libraries the build needs, naming packages to install"
    user_options = []

    def initialize_options(self):
        pass

    def finalize_options(self):
        pass

    def run(self):
        check_system()
        print("cartrecovery: every system library the build needs is present")


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        check_system()
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        # CARTRECOVERY_BUILD_DIR lets the test script share one build tree with CTest.
        build_dir = Path(os.environ.get("CARTRECOVERY_BUILD_DIR", self.build_temp)).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        tests = os.environ.get("CARTRECOVERY_BUILD_TESTS", "OFF")
        config = [
            f"-DCARTRECOVERY_PACKAGE_DIR={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCARTRECOVERY_BUILD_TESTS={tests}",
            # Test builds check the GIL rule unless told otherwise (bindings/py_callable.h).
            f"-DCARTRECOVERY_ASSERT_GIL={os.environ.get('CARTRECOVERY_ASSERT_GIL', tests)}",
            # Release (optimised; pybind11 strips the module) unless the caller asks otherwise:
            # tests/bootstrap.sh keeps RelWithDebInfo for debugging.
            "-DCMAKE_BUILD_TYPE=" + os.environ.get("CMAKE_BUILD_TYPE", "Release"),
        ]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            config.append("-GNinja")
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *config], check=True)
        # Parallel by default: every core (CMAKE_BUILD_PARALLEL_LEVEL overrides).
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", str(build_dir), "-j", jobs], check=True)


setup(
    version=VERSION,
    packages=["cartrecovery", "cartrecovery.web", "cartrecovery.flask", "cartrecovery.django",
              "cartrecovery.django.templatetags", "cartrecovery.django.management",
              "cartrecovery.django.management.commands", "cartrecovery.contrib",
              "cartrecovery.contrib.oscar", "cartrecovery.contrib.salesman"],
    package_dir={"": "plugin-adapters"},
    package_data={"cartrecovery": ["py.typed", "*.pyi", "static/*"]},
    ext_modules=[CMakeExtension("cartrecovery._core")],
    cmdclass={"build_ext": CMakeBuild, "check_system": CheckSystem},
    zip_safe=False,
)
