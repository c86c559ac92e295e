"""PostgreSQL writers on several hosts: they wait for each other only over the same shopper.

Each writer of a shopper's rows locks that shopper's keys (contact key, cart) for its
transaction instead of the whole store (store.h). Shown with the server's own view of who
waits for what (pg_stat_activity) while another connection holds a transaction open, never
with timings: every wait below is a bounded poll for a state, and a state that never comes
fails the test."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import cartrecovery as cr
from conftest import HOUR, ON_POSTGRES, PG_URL, SETTINGS, T0, RawPostgres, _pg_schema, add_cart, store_url

pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's locks (CARTRECOVERY_TEST_STORE=postgresql)"),
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

TIMEOUT = 20  # seconds any awaited state may take before the test gives up


def raw(db_path) -> RawPostgres:
    """A connection of our own to the store's schema, behind the engines' backs."""
    conn = RawPostgres(PG_URL)
    conn.execute(f"SET search_path TO {_pg_schema(db_path)}")
    return conn


def waiting(conn: RawPostgres, schema: str) -> list[str]:
    """What each of the store's engine connections waits for: 'key' (another writer's key:
    its row of key_locks, while locking keys), 'Lock:advisory' (the store-wide lock),
    'Lock:transactionid' (a row of a table), 'Lock:relation'."""
    rows = conn.execute(
        "SELECT CASE WHEN wait_event <> 'advisory' AND query LIKE '%key_locks%' THEN 'key'"
        " ELSE wait_event_type || ':' || wait_event END FROM pg_stat_activity"
        f" WHERE application_name = 'cartrecovery/{schema}' AND wait_event_type = 'Lock'")
    return sorted(r[0] for r in rows)


def waiting_transactions(conn: RawPostgres, schema: str) -> list[tuple]:
    """(process, transaction start) of each engine connection waiting for a lock."""
    return sorted(conn.execute(
        "SELECT pid, xact_start FROM pg_stat_activity"
        f" WHERE application_name = 'cartrecovery/{schema}' AND wait_event_type = 'Lock'"))


def until(what: str, check) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {TIMEOUT} s: {what}")
        time.sleep(0.02)


def in_thread(fn) -> threading.Thread:
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_writers_of_different_contacts_pass_each_other_and_one_contact_serialises(db_path, clock):
    url = store_url(db_path)
    schema = _pg_schema(db_path)
    first = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    second = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    try:
        add_cart(first, "a1", email="ann@example.com")
        add_cart(first, "b1", email="bob@example.com")
        first.flush()
        holder, watcher = raw(db_path), raw(db_path)
        try:
            # Ann's contact row is held by a transaction of ours: the first engine's writer
            # gets Ann's keys, then waits for the row, inside its transaction.
            holder.execute("BEGIN")
            holder.execute("SELECT 1 FROM contacts WHERE contact_key = 'e:ann@example.com' FOR UPDATE")
            first.track("contact_captured", cart_id="a2", email="ann@example.com", first_name="Ann")
            until("the first writer waits for Ann's row",
                  lambda: waiting(watcher, schema) == ["Lock:transactionid"])
            ann_writer = waiting_transactions(watcher, schema)

            # Another connection, another contact: committed while the first one still waits
            # (with one lock for the whole store it would wait behind it).
            done = in_thread(lambda: second.track("order_placed", order_id="o-b", cart_id="b1"))
            done.join(TIMEOUT)
            assert not done.is_alive(), "a writer for Bob waited for a writer of Ann"
            # ... while that very transaction of Ann's writer still waits (not one that gave
            # up on its lock timeout and was begun again).
            assert waiting_transactions(watcher, schema) == ann_writer
            assert watcher.execute("SELECT count(*) FROM orders WHERE order_id = 'o-b'") == [("1",)]
            assert watcher.execute("SELECT count(*) FROM carts WHERE cart_id = 'a2'") == [("0",)]

            # The same contact: the second writer waits for Ann's key, not for her row.
            ann = in_thread(lambda: second.track("order_placed", order_id="o-a", email="ann@example.com"))
            until("the second writer waits for Ann's key",
                  lambda: waiting(watcher, schema) == ["Lock:transactionid", "key"])
            assert ann.is_alive()
            holder.execute("ROLLBACK")
            ann.join(TIMEOUT)
            assert not ann.is_alive()
            first.flush()
            # Serialised: the order saw the contact the first writer saved.
            assert watcher.execute("SELECT first_name, orders_count FROM contacts"
                                   " WHERE contact_key = 'e:ann@example.com'") == [("Ann", "1")]
            assert watcher.execute("SELECT contact_key FROM carts WHERE cart_id = 'a2'") == [
                ("e:ann@example.com",)]
        finally:
            holder.close()
            watcher.close()
    finally:
        first.close()
        second.close()


# ---- S4 with real processes: an order waits for a plan in progress, then wins --------------

def _slow_worker(url: str, outdir: str, when: float) -> None:
    """run_due() once; the channel notes each cart it is handed (by address: Ann's is A) in
    `outdir`, and holds Ann's until the parent drops `outdir`/release."""
    out = Path(outdir)
    code = 1
    try:
        def send(message) -> None:
            cart = "A" if message["to"] == "ann@example.com" else "B"
            (out / f"sent-{cart}").write_text(message["message_id"])
            if cart == "A":
                deadline = time.monotonic() + TIMEOUT
                while not (out / "release").exists() and time.monotonic() < deadline:
                    time.sleep(0.01)

        clock = cr.ManualClock(datetime.fromtimestamp(when, tz=timezone.utc))
        engine = cr.Engine(store=url, clock=clock, channels={"email": cr.CallbackChannel(send)},
                           settings=SETTINGS)
        engine.run_due()
        engine.close()
        code = 0
    finally:
        os._exit(code)


def test_an_order_during_a_workers_plan_waits_for_it_and_no_reminder_of_its_cart_leaves(
        db_path, tmp_path, clock):
    url = store_url(db_path)
    schema = _pg_schema(db_path)
    shop = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    holder, watcher = raw(db_path), raw(db_path)
    try:
        add_cart(shop, "A", email="ann@example.com")
        clock.set(T0 + HOUR / 60)
        add_cart(shop, "B", email="bob@example.com")  # due after A: delivered after it
        shop.flush()
        # The worker's plan reads the journeys, then the flow pauses: held there by us, with
        # the batch's shoppers locked.
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE flow_pauses IN ACCESS EXCLUSIVE MODE")
        when = (T0 + 2 * HOUR).timestamp()
        worker = multiprocessing.get_context("fork").Process(
            target=_slow_worker, args=(url, str(tmp_path), when))
        worker.start()
        until("the worker's plan waits in the middle",
              lambda: waiting(watcher, schema) == ["Lock:relation"])

        # Bob orders now. His writer waits for the plan that holds his cart.
        order = in_thread(lambda: shop.track("order_placed", order_id="o-b", cart_id="B"))
        until("the order waits for the worker's plan",
              lambda: waiting(watcher, schema) == ["Lock:relation", "key"])
        assert watcher.execute("SELECT count(*) FROM orders") == [("0",)]

        holder.execute("ROLLBACK")
        # The plan commits both reminders "sending"; the order then commits and suppresses
        # Bob's, while the worker is still handing Ann's to the channel.
        order.join(TIMEOUT)
        assert not order.is_alive()
        until("Ann's reminder is being sent", lambda: (tmp_path / "sent-A").exists())
        # The worker's last look before each send (SendGate) sees another host's commit once
        # its commit mark moves, at least every 20 ms of real time (store.h CommitMark): Ann's
        # send is held past that, so that Bob's look comes after the order's commit is seen.
        time.sleep(0.1)
        (tmp_path / "release").write_text("go")
        worker.join(TIMEOUT)
        assert worker.exitcode == 0
        assert not (tmp_path / "sent-B").exists(), "a reminder left after its cart's order committed"
        statuses = dict(watcher.execute("SELECT cart_id, status || ':' || coalesce(reason, '')"
                                        " FROM messages"))
        assert statuses == {"A": "sent:", "B": "suppressed:ordered"}
    finally:
        holder.close()
        watcher.close()
        shop.close()


# ---- four workers on one schema --------------------------------------------------------------

N_CARTS = 1200  # more than two claim batches (500) each for the four to share


def _counting_worker(url: str, outdir: str, worker: int, barrier, when: float) -> None:
    code = 1
    try:
        sent: list[str] = []
        clock = cr.ManualClock(datetime.fromtimestamp(when, tz=timezone.utc))
        engine = cr.Engine(store=url, clock=clock,
                           channels={"email": cr.CallbackChannel(lambda m: sent.append(m["message_id"]))},
                           settings={**SETTINGS, "worker_id": f"w{worker}"})
        barrier.wait(TIMEOUT)
        engine.run_due()
        engine.close()
        Path(outdir, f"worker-{worker}").write_text("\n".join(sent))
        code = 0
    finally:
        os._exit(code)


def test_four_workers_send_every_reminder_once(db_path, tmp_path, clock):
    url = store_url(db_path)
    setup = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    setup.track_many([{"type": "cart_updated", "cart_id": f"c{i}", "visitor_id": f"v{i}",
                       "items": [{"sku": "K", "name": "Kite", "price": "19.99", "quantity": 1}],
                       "currency": "EUR"} for i in range(N_CARTS)]
                     + [{"type": "contact_captured", "cart_id": f"c{i}", "email": f"s{i}@example.com"}
                        for i in range(N_CARTS)])
    setup.flush()
    setup.close()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    when = (T0 + 2 * HOUR).timestamp()
    procs = [ctx.Process(target=_counting_worker, args=(url, str(tmp_path), w, barrier, when))
             for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(3 * TIMEOUT)
        assert p.exitcode == 0
    per_worker = [Path(tmp_path, f"worker-{w}").read_text().split() for w in range(4)]
    print("reminders per worker:", [len(s) for s in per_worker])
    delivered = [m for s in per_worker for m in s]
    assert len(delivered) == N_CARTS
    assert len(set(delivered)) == N_CARTS, "a reminder was delivered twice"
    check = cr.Engine(store=url, clock=clock)
    try:
        msgs = check.messages(limit=None)
        assert len(msgs) == N_CARTS and {m["status"] for m in msgs} == {"sent"}
        assert check.status()["last_error"] is None
    finally:
        check.close()


# ---- more keys than the server's lock table holds --------------------------------------------

def lock_table_entries(conn: RawPostgres) -> int:
    """How many locks the whole server can hold at once in its shared lock table."""
    def setting(name: str) -> int:
        return int(conn.execute(f"SHOW {name}")[0][0])
    return setting("max_locks_per_transaction") * (
        setting("max_connections") + setting("max_prepared_transactions"))


def test_one_import_locks_more_shoppers_than_the_servers_lock_table_holds(db_path, clock):
    url = store_url(db_path)
    watcher = raw(db_path)
    # Each cart with a visitor and an e-mail is three keys (cart, visitor, contact), all
    # locked at once by the writer's one transaction for the batch: as many carts as the
    # server's lock table has entries (6,400 with the defaults) is three times what it holds.
    carts = max(10_000, lock_table_entries(watcher))
    engine = cr.Engine(store=url, clock=clock, settings={**SETTINGS, "max_batch": carts})
    try:
        engine.track_many([{"type": "cart_updated", "cart_id": f"c{i}", "visitor_id": f"v{i}",
                            "email": f"s{i}@example.com", "currency": "EUR",
                            "items": [{"sku": "K", "name": "Kite", "price": "19.99", "quantity": 1}]}
                           for i in range(carts)], durable=True)
        assert watcher.execute("SELECT count(*) FROM carts") == [(str(carts),)]
        assert watcher.execute("SELECT count(*) FROM contacts") == [(str(carts),)]
        assert watcher.execute("SELECT count(*) FROM key_locks") == [(str(3 * carts),)]
        assert engine.status()["last_error"] is None
    finally:
        watcher.close()
        engine.close()


def test_retention_empties_the_key_rows_but_never_waits_for_a_reader_of_them(db_path, clock):
    url = store_url(db_path)
    engine = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    holder, watcher = raw(db_path), raw(db_path)
    try:
        add_cart(engine, "a1", email="ann@example.com")
        engine.flush()
        locked = watcher.execute("SELECT count(*) FROM key_locks")
        assert locked != [("0",)]
        # A backup (pg_dump) reads the table: the round leaves the rows to a later one
        # rather than queue every writer behind it, and its other work still commits.
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM key_locks")
        engine.prune()
        assert watcher.execute("SELECT count(*) FROM key_locks") == locked
        assert engine.status()["last_error"] is None
        holder.execute("ROLLBACK")
        # Retention runs store-wide, so no writer holds a key: every row goes, one per key
        # ever locked otherwise.
        engine.prune()
        assert watcher.execute("SELECT count(*) FROM key_locks") == [("0",)]
        # ... and comes back when its key is locked again.
        engine.track("order_placed", order_id="o-a", cart_id="a1")
        engine.flush()
        assert watcher.execute("SELECT count(*) FROM key_locks") != [("0",)]
    finally:
        holder.close()
        watcher.close()
        engine.close()


# ---- the ladder: keys are taken in one order by every writer ----------------------------------

def key_row(key: str) -> int:
    """The row of key_locks a key is locked by: its 64-bit FNV-1a, signed (pg_db.cpp)."""
    h = 14695981039346656037
    for b in key.encode():
        h = ((h ^ b) * 1099511628211) % 2**64
    return h - 2**64 if h >= 2**63 else h


def test_a_writer_waiting_for_one_key_already_holds_the_keys_below_it(db_path, clock):
    url = store_url(db_path)
    schema = _pg_schema(db_path)
    first = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    second = cr.Engine(store=url, clock=clock, settings=SETTINGS)
    holder, watcher = raw(db_path), raw(db_path)
    try:
        first.flush()
        contact = key_row("e:ann@example.com")
        # A new cart of Ann's whose key sorts above her contact key.
        cart = next(c for c in (f"a{i}" for i in range(100)) if key_row(f"cart:{c}") > contact)
        holder.execute("BEGIN")
        holder.execute(f"INSERT INTO key_locks(k) VALUES ({key_row(f'cart:{cart}')})"
                       " ON CONFLICT (k) DO UPDATE SET k = excluded.k WHERE false")
        # The first writer locks Ann's contact, then waits for the cart's key we hold ...
        first.track("cart_updated", cart_id=cart, email="ann@example.com", currency="EUR")
        until("the first writer waits for the cart's key", lambda: waiting(watcher, schema) == ["key"])
        # ... so that a second writer of Ann's waits for the first one, holding nothing that
        # the first one needs (keys taken out of order would let it pass, or cross it).
        other = in_thread(lambda: second.track("cart_updated", cart_id="b1", email="ann@example.com",
                                               currency="EUR", durable=True))
        until("the second writer waits for Ann's key", lambda: waiting(watcher, schema) == ["key", "key"])
        assert watcher.execute("SELECT count(*) FROM carts") == [("0",)]
        holder.execute("ROLLBACK")
        other.join(TIMEOUT)
        assert not other.is_alive()
        first.flush()
        assert watcher.execute("SELECT cart_id FROM carts ORDER BY cart_id") == [(cart,), ("b1",)]
    finally:
        holder.close()
        watcher.close()
        first.close()
        second.close()
