"""Issue 9: what a reminder writes after its "sending" mark. The row of a message moves
(sending -> sent) and its journey advances with every step; an index over a column that
moves, or a row replaced instead of updated, dirties a random page of that index, and every
dirty page goes to the WAL at the commit (4 KB for a few bytes). So after the transaction
that plans the batch (bodies and message rows written), the transactions that store "sent"
and record the step write the rows' pages and no page of a message or journey index.

Read from the outside: the WAL file's frames (page number, commit marks) of one run_due(),
each page named by SQLite's dbstat table."""
from __future__ import annotations

import sqlite3
import struct
from collections import Counter

import pytest

from conftest import HOUR, T0, run_at, started_journeys

pytestmark = pytest.mark.sqlite_only("reads the SQLite WAL file")

CARTS = 120
# Indexes whose entries must not move once a message and its journey exist.
KEYED = {"sqlite_autoindex_messages_1", "messages_cart", "messages_journey", "messages_contact",
         "messages_created", "sqlite_autoindex_journeys_1", "journeys_contact", "journeys_cart",
         "journeys_finished"}


def wal_transactions(wal: bytes) -> list[list[int]]:
    """The page numbers of each committed transaction in a WAL file, in order."""
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">IIIIII", wal[:24])
    assert magic in (0x377F0682, 0x377F0683), "not a WAL file"
    out, pages, pos = [], [], 32
    while pos + 24 + page_size <= len(wal):
        page, commit_size, s1, s2 = struct.unpack(">IIII", wal[pos:pos + 16])
        if (s1, s2) != (salt1, salt2):
            break  # left over from before the WAL was last reset
        pages.append(page)
        if commit_size:
            out.append(pages)
            pages = []
        pos += 24 + page_size
    return out


def test_after_the_plan_no_index_of_messages_or_journeys_is_written(make_engine, clock, db_path):
    engine, handed = started_journeys(make_engine, clock, CARTS)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0, "checkpoint blocked"
    raw.close()

    assert run_at(engine, clock, T0 + 2 * HOUR) == CARTS
    assert len(handed) == CARTS

    raw = sqlite3.connect(db_path)
    try:
        owner = dict(raw.execute("SELECT pageno, name FROM dbstat"))
    finally:
        raw.close()
    transactions = [Counter(owner.get(p, "?") for p in set(pages))
                    for pages in wal_transactions(db_path.with_name(db_path.name + "-wal").read_bytes())]
    # The plan: the transaction that writes the batch's bodies (packed against their
    # template, four or so to a page).
    plan = max(range(len(transactions)), key=lambda i: transactions[i]["message_bodies"])
    assert transactions[plan]["message_bodies"] >= CARTS // 8, transactions
    after = transactions[plan + 1:]
    # What comes after: "sent" groups and the record (rows of messages, journeys, jobs).
    assert any(t["messages"] for t in after) and any(t["journeys"] for t in after), after
    written = {name: n for t in after for name, n in t.items() if name in KEYED}
    assert written == {}, f"index pages written after the plan: {written}"
    assert {m["status"] for m in engine.messages()} == {"sent"}
