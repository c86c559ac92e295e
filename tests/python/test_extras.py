"""Packaging hygiene: the optional adapters name the extra to install when their framework
is missing, and the version is written in one place."""
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

import cartrecovery as cr

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Runs `import <module>` in a fresh interpreter where the given top-level packages cannot be
# imported (a meta-path finder refuses them), as on a shop without that extra installed.
_HIDE = textwrap.dedent("""
    import importlib.abc, sys
    HIDDEN = set(sys.argv[1].split(","))
    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Hide())
    import importlib
    try:
        importlib.import_module(sys.argv[2])
    except ImportError as e:
        print(f"ImportError: {e}")
        sys.exit(3)
    print("imported")
""")


def _import_without(hidden, module):
    return subprocess.run([sys.executable, "-c", _HIDE, ",".join(hidden), module],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("module, hidden, extra", [
    ("cartrecovery.flask", ["click"], "flask"),
    ("cartrecovery.flask", ["flask", "click", "werkzeug", "markupsafe"], "flask"),
    ("cartrecovery.django", ["django"], "django"),
    ("cartrecovery.notebook", ["pandas"], "notebook"),
    ("cartrecovery.notebook", ["matplotlib"], "notebook"),
])
def test_a_missing_extra_is_named_on_import(module, hidden, extra):
    r = _import_without(hidden, module)
    assert r.returncode == 3, r.stdout + r.stderr
    assert f'pip install "cartrecovery[{extra}]"' in r.stdout, r.stdout


def test_the_core_imports_without_any_extra():
    r = _import_without(["flask", "click", "django", "pandas", "matplotlib"], "cartrecovery")
    assert r.returncode == 0 and "imported" in r.stdout, r.stdout + r.stderr


def test_one_version_source():
    version = re.search(r'^__version__ = "([^"]+)"',
                        (ROOT / "plugin-adapters/cartrecovery/_version.py").read_text(), re.M)[1]
    assert cr.__version__ == version
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject
    # CMake's project version comes from the same file (no literal version there).
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "_version.py" in cmake and version not in cmake


def test_requires_python_matches_the_tested_python():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
    assert '"Programming Language :: Python :: 3.11"' in pyproject
    assert not re.search(r"Python :: 3\.(9|10)\b", pyproject)
