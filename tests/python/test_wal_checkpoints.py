"""Issue 9, durable track() under load: the engine's commits leave SQLite's WAL checkpoints
to a checkpointer thread of the engine (core/src/engine/checkpointer.h), so a commit never
waits for the log to be copied into the file. What must still hold: the WAL stays bounded
while the engine's writer commits, however long it goes on, and close() leaves a store
whose whole log is in its file, reopened with nothing lost.

Read from the outside: the WAL file's size, the file with its WAL gone, and the process's
threads (/proc/self/task)."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest

import cartrecovery as cr
from conftest import KITE

pytestmark = pytest.mark.sqlite_only("reads the SQLite WAL file")

MB = 1 << 20
# The checkpointer copies the log once it reached 1000 pages (4 MB); commits go on while it
# copies, so the file may grow past that by what they write meanwhile (here ~0.85 MB each).
WAL_BOUND = 16 * MB


def cart_events(start: int, n: int, items: int = 1) -> list[dict]:
    """New carts, with `items` lines of long names each."""
    lines = [dict(KITE)] if items == 1 else [
        {**KITE, "sku": f"KITE-{k}", "name": f"Kite Pro {k}m, " + "with bar and lines " * 12} for k in range(items)]
    return [{"type": "cart_updated", "cart_id": f"c{i}", "visitor_id": f"v{i}", "items": lines,
             "currency": "EUR", "restore_url": f"https://kite.example/cart/{i}"}
            for i in range(start, start + n)]


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_the_wal_stays_bounded_while_the_writer_commits(make_engine, db_path):
    engine = make_engine()
    wal = Path(f"{db_path}-wal")
    largest, carts = 0, 0
    # Commits of 100 carts (~0.85 MB of pages each), ~170 MB in all: ten times the bound.
    while carts < 20_000:
        engine.track_many(cart_events(carts, 100, items=10), durable=True)  # the writer's commit
        carts += 100
        largest = max(largest, wal.stat().st_size)
    assert largest <= WAL_BOUND, f"the WAL grew to {largest / MB:.1f} MB"
    assert engine.cart("c19999") is not None


def _commit_rounds(url: str, first: int, rounds: int, barrier) -> None:
    engine = cr.Engine(store=url)
    barrier.wait(60)
    for r in range(rounds):
        engine.track_many(cart_events(first + r * 100, 100, items=10), durable=True)
    engine.close()


def _busy(until: float) -> None:
    while time.monotonic() < until:
        pass


@pytest.mark.parametrize("cpu", ["idle", "starved"])
def test_the_wal_stays_bounded_with_two_processes_committing(db_path, cpu):
    """Each process's checkpointer finishes its rounds holding the write lock of the file:
    a round overtaken by the other process's commits would not let the log start again.
    Starved: busy loops, one more than the cores, take most of the CPU, so that a
    transaction of the other process outlasts the checkpointer's first wait (what CI's load
    did once: a fixed 50 ms wait let the log grow to 20-55 MB here)."""
    url = f"sqlite:///{db_path}"
    cr.Engine(store=url).close()  # the schema, before both start
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_commit_rounds, args=(url, k * 1_000_000, 80, barrier)) for k in range(2)]
    hogs = [ctx.Process(target=_busy, args=(time.monotonic() + 90,), daemon=True)
            for _ in range((os.cpu_count() or 1) + 1 if cpu == "starved" else 0)]
    for p in hogs + procs:
        p.start()
    wal, largest = Path(f"{db_path}-wal"), 0
    deadline = time.monotonic() + 120
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        largest = max(largest, wal.stat().st_size if wal.exists() else 0)
        time.sleep(0.02)
    for p in procs:
        p.join(5)
    for h in hogs:
        h.terminate()
    assert [p.exitcode for p in procs] == [0, 0]
    assert largest <= WAL_BOUND, f"the WAL grew to {largest / MB:.1f} MB"
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("SELECT count(*) FROM carts").fetchone()[0] == 2 * 80 * 100
    finally:
        raw.close()


def test_close_stops_the_checkpointer_and_leaves_the_whole_log_in_the_file(make_engine, db_path):
    before = threads()
    engine = make_engine()
    engine.start()  # the worker, with the writer: both hand their commits' checkpoints over
    engine.track_many(cart_events(0, 20_000))
    last = cart_events(20_000, 1)[0]
    engine.track(last.pop("type"), durable=True, **last)
    engine.close()
    assert threads() == before, "a thread of the engine outlived close()"
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "close() left pages in the WAL"
    # The file alone holds everything: read as immutable, SQLite does not look at a WAL.
    raw = sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert raw.execute("SELECT count(*) FROM carts").fetchone()[0] == 20_001
    finally:
        raw.close()
    again = cr.Engine(store=f"sqlite:///{db_path}")
    try:
        assert again.cart("c20000") is not None
        assert again.cart("c0") is not None
    finally:
        again.close()
