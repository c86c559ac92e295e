"""tests/bench/bench_fire.py stays runnable: its --quick mode on a few hundred carts, for the
engine rows, the Django cron peers, the bare loop, the idle tick and the durable track()
probe (and Huey, Celery and PostgreSQL when their packages and servers are here). Nothing
here asserts a speed: the numbers belong to docs/PERFORMANCE.md; this checks that every row
measured the whole workload (the bench itself refuses a run whose count is wrong) and that
the JSON turns back into the table."""
from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "bench" / "bench_fire.py"
CARTS = 100


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _rows() -> list[str]:
    rows = ["engine_noop", "engine_outbox", "django_batch", "bare_nobody", "bare_5k", "track"]
    if _listening(5432):
        rows.append("pg_2")
    if importlib.util.find_spec("celery") and importlib.util.find_spec("redis") \
            and shutil.which("redis-cli") and _listening(6379):
        rows.append("celery")
    if importlib.util.find_spec("huey"):
        rows.append("huey")
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fire") / "fire.json"
    rows = _rows()
    res = subprocess.run([sys.executable, str(BENCH), "--quick", "--carts", str(CARTS),
                          "--ticks", "1000,3000", "--only", ",".join(rows), "--out", str(out)],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-4000:]
    return rows, json.loads(out.read_text()), res.stdout


def test_every_chosen_row_fires_the_whole_workload(quick_run):
    rows, result, _ = quick_run
    measured = {k for k in rows if k not in ("track",)}
    assert set(result["rows"]) == measured
    for key, row in result["rows"].items():
        assert "error" not in row, (key, row)
        (run,) = row["runs"]
        assert run["count"] == CARTS, key
        assert run["seconds"] > 0 and row["median_per_s"] == pytest.approx(CARTS / run["seconds"])
    if "pg_2" in result["rows"]:
        # both processes took part in the same store's work, which adds up to the workload
        assert sum(result["rows"]["pg_2"]["runs"][0]["per_worker"]) == CARTS


def test_idle_tick_and_durable_track_are_measured(quick_run):
    _, result, _ = quick_run
    ticks = result["ticks"]
    assert set(k for k in ticks if k.isdigit()) == {"1000", "3000"}
    assert all(ticks[k]["calls"] >= 5 and ticks[k]["median_ms"] > 0 for k in ("1000", "3000"))
    track = ticks["track"]
    assert track["pending"] == 3000 and track["probes"] >= 1 and track["p99_ms"] >= track["median_ms"]


def test_ratios_and_the_table_come_from_the_json(quick_run, tmp_path):
    rows, result, stdout = quick_run
    r = result["ratios"]
    assert r["fastest_peer"] in result["rows"]
    assert r["engine_noop/bare"] == pytest.approx(
        result["rows"]["engine_noop"]["median_per_s"] / result["rows"]["bare_nobody"]["median_per_s"])
    assert r["tick_3000/tick_base"] == pytest.approx(
        result["ticks"]["3000"]["median_ms"] / result["ticks"]["1000"]["median_ms"])
    path = tmp_path / "fire.json"
    path.write_text(json.dumps(result))
    table = subprocess.run([sys.executable, str(BENCH), "--table", str(path)], capture_output=True,
                           text=True, timeout=60, cwd=ROOT, check=True).stdout
    assert table == stdout.strip() + "\n"
    assert "| `run_due()` to a no-op CallbackChannel (SQLite) |" in table
    assert "vs fastest peer" in table and "| 3,000 |" in table
