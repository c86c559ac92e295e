"""tests/bootstrap.sh knows in milliseconds that nothing changed (a stamp of the build's
inputs) and rebuilds when anything it builds from did. Run in a scratch tree with a fake
.venv/bin/python that records being called, so nothing is really built here."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _stamp(root):
    return subprocess.run(["bash", str(ROOT / "tests/build-stamp.sh"), str(root)], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "clone"
    for rel in ("tests/bootstrap.sh", "tests/build-stamp.sh"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    for rel, text in (("CMakeLists.txt", "project(x)\n"), ("setup.py", ""), ("pyproject.toml", ""),
                      ("core/src/store/store.cpp", "int x;\n"), ("bindings/module.cpp", "\n"),
                      ("plugin-adapters/cartrecovery/_version.py", '__version__ = "1"\n'),
                      ("plugin-adapters/cartrecovery/engine.py", "\n"),
                      ("plugin-adapters/cartrecovery/_core.cpython-311-x86_64-linux-gnu.so", "")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    venv_python = root / ".venv/bin/python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\necho "$@" >> "{root}/python-calls"\nexit 1\n')
    venv_python.chmod(0o755)
    (root / "build").mkdir()
    (root / "build/.bootstrap-stamp").write_text(f"{_stamp(root)} tests=1\n")
    return root


def _bootstrap(root, tests="1"):
    env = {**os.environ, "CARTRECOVERY_WITH_TESTS": tests}
    return subprocess.run(["bash", str(root / "tests/bootstrap.sh")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_unchanged_sources_skip_the_build(tree):
    r = _bootstrap(tree)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "bootstrap: up to date (sources unchanged since the last build)"
    assert not (tree / "python-calls").exists()  # neither pip nor the build ran
    assert _bootstrap(tree, tests="0").returncode == 0  # a build with tests serves the demo too


@pytest.mark.parametrize("change", ["edit a source", "new source", "edit bootstrap.sh", "no stamp",
                                    "tests wanted", "no extension"])
def test_a_change_to_what_is_built_rebuilds(tree, change):
    if change == "edit a source":
        (tree / "core/src/store/store.cpp").write_text("int xy;\n")
    elif change == "new source":
        (tree / "core/src/store/rows.cpp").write_text("\n")
    elif change == "edit bootstrap.sh":
        with open(tree / "tests/bootstrap.sh", "a") as f:
            f.write("\n# a new test dependency\n")
    elif change == "no stamp":
        (tree / "build/.bootstrap-stamp").unlink()
    elif change == "tests wanted":
        (tree / "build/.bootstrap-stamp").write_text(f"{_stamp(tree)} tests=0\n")
    elif change == "no extension":
        (tree / "plugin-adapters/cartrecovery/_core.cpython-311-x86_64-linux-gnu.so").unlink()
    r = _bootstrap(tree)
    assert "up to date" not in r.stdout
    assert "pip install" in (tree / "python-calls").read_text()  # it went on to install/build


def test_python_only_changes_need_no_build(tree):
    (tree / "plugin-adapters/cartrecovery/engine.py").write_text("# edited\n")
    assert "up to date" in _bootstrap(tree).stdout


def test_the_stamp_follows_mtimes_not_only_names(tree):
    before = _stamp(tree)
    src = tree / "core/src/store/store.cpp"
    st = src.stat()
    os.utime(src, (st.st_atime, st.st_mtime + 5))
    assert _stamp(tree) != before
