"""Issue 9: what a reminder's journey step writes on PostgreSQL. A step changes no indexed
column of its journey (retention finds ended journeys by finished_ms, NULL while a journey
runs, store migration 14), so the server may keep the row's new version on its page (a HOT
update) and write no index entry, when the page has room (fillfactor 50, migration 14).

Counted by the server itself: pg_stat_user_tables after a run, in a fresh schema."""
from __future__ import annotations

import time

import pytest

from conftest import HOUR, ON_POSTGRES, T0, run_at, started_journeys, store_execute

pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's HOT updates (CARTRECOVERY_TEST_STORE=postgresql)"),
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

CARTS = 60
TIMEOUT = 20  # seconds for the closed engine's statistics to reach the server's view


def journey_updates(db_path) -> tuple[int, int]:
    """(updates, HOT updates) of the store's journeys so far, as the server counts them."""
    rows = store_execute(db_path, "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                                  " WHERE relname = 'journeys' AND schemaname = current_schema()")
    return int(rows[0][0]), int(rows[0][1])


def test_a_journeys_step_is_a_hot_update(make_engine, clock, db_path):
    engine, handed = started_journeys(make_engine, clock, CARTS)
    assert run_at(engine, clock, T0 + 2 * HOUR) == CARTS
    assert len(handed) == CARTS
    assert {j for (j,) in store_execute(db_path, "SELECT state || ':' || next_step FROM journeys")} == {
        "running:1"}
    # A backend hands its counts to the server's view when it ends (or once a second).
    engine.close()
    deadline = time.monotonic() + TIMEOUT
    while (counts := journey_updates(db_path))[0] < CARTS:
        if time.monotonic() > deadline:
            pytest.fail(f"the journeys' {CARTS} step updates not counted within {TIMEOUT} s: {counts}")
        time.sleep(0.05)
    updates, hot = counts
    # The batch's journeys share pages, and the old versions are freed only after the
    # commit: each needs room on its page (fillfactor 50; with 80, a quarter were HOT). With
    # updated_ms in an index, none.
    assert hot >= updates * 3 // 4, f"{hot} of {updates} journey updates were HOT"
