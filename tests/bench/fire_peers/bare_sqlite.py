"""The hardware's limit: a bare sqlite3 loop doing the writes one reminder needs, on tables
shaped like the engine's (jobs, journeys, messages), 500 reminders per transaction, WAL,
synchronous=FULL: claim the job (attempt fence), write the message row, mark the job done,
advance the journey and schedule its next step. No rendering, no decisions: only the I/O.
"""
from __future__ import annotations

import sqlite3
import time

SCHEMA = """
CREATE TABLE jobs(job_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
  subject TEXT NOT NULL, due_ms INTEGER NOT NULL, state TEXT NOT NULL,
  lease_until_ms INTEGER NOT NULL, attempt INTEGER NOT NULL, UNIQUE(kind, subject));
CREATE INDEX jobs_due ON jobs(due_ms) WHERE state = 'pending';
CREATE TABLE journeys(journey_id TEXT PRIMARY KEY, cart_id TEXT NOT NULL,
  contact_key TEXT NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL, state TEXT NOT NULL,
  next_step INTEGER NOT NULL, next_due_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL);
CREATE TABLE messages(message_id TEXT PRIMARY KEY, journey_id TEXT NOT NULL,
  cart_id TEXT NOT NULL, contact_key TEXT NOT NULL, flow TEXT NOT NULL, path TEXT NOT NULL,
  step INTEGER NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL, to_addr TEXT,
  subject TEXT, text TEXT, due_ms INTEGER NOT NULL, sent_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE INDEX messages_cart ON messages(cart_id, created_ms);
CREATE INDEX messages_journey ON messages(journey_id);
CREATE INDEX messages_contact ON messages(contact_key);
"""

BATCH = 500
T_DUE = 1_772_449_200_000  # 2026-03-02 11:00 UTC
HOUR = 3_600_000


def prepare(path: str, carts: int) -> None:
    """`carts` journeys at step 1, each with its due step job (untimed set-up)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.execute("BEGIN")
    db.executemany("INSERT INTO journeys VALUES(?, ?, ?, 'cart-recovery', 'visitor', 'running', 1, ?, ?)",
                   ((f"j{i}", f"c{i}", f"e:shopper{i}@example.com", T_DUE, T_DUE - 2 * HOUR)
                    for i in range(carts)))
    db.executemany("INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt) "
                   "VALUES('step', ?, ?, 'pending', 0, 0)", ((f"j{i}", T_DUE) for i in range(carts)))
    db.execute("COMMIT")
    db.close()


def run(path: str, body_bytes: int) -> int:
    """Fires every due job; returns how many reminders were written."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    body = ("x" * body_bytes) if body_bytes else None
    now = T_DUE + 60_000
    done = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        due = db.execute("SELECT job_id, subject, attempt FROM jobs WHERE state='pending' AND due_ms<=? "
                         "ORDER BY due_ms LIMIT ?", (now, BATCH)).fetchall()
        if not due:
            db.execute("COMMIT")
            break
        for job_id, journey_id, attempt in due:
            db.execute("UPDATE jobs SET state='claimed', lease_until_ms=?, attempt=? "
                       "WHERE job_id=? AND attempt=?", (now + 60_000, attempt + 1, job_id, attempt))
            cart = "c" + journey_id[1:]
            db.execute("INSERT INTO messages VALUES(?, ?, ?, ?, 'cart-recovery', 'visitor', 1, 'email', "
                       "'sent', ?, ?, ?, ?, ?, ?)",
                       (f"m-{journey_id}-1-email", journey_id, cart, "e:shopper" + cart[1:] + "@example.com",
                        "shopper" + cart[1:] + "@example.com", "Your cart is waiting", body, T_DUE, now, now))
            db.execute("UPDATE jobs SET state='done' WHERE job_id=? AND attempt=?", (job_id, attempt + 1))
            db.execute("UPDATE journeys SET next_step=2, next_due_ms=? WHERE journey_id=?",
                       (now + 10 * HOUR, journey_id))
            db.execute("INSERT INTO jobs(kind, subject, due_ms, state, lease_until_ms, attempt) "
                       "VALUES('step2', ?, ?, 'pending', 0, 0)", (journey_id, now + 10 * HOUR))
        db.execute("COMMIT")
        done += len(due)
    db.close()
    return done


def measure(path: str, carts: int, body_bytes: int) -> dict:
    prepare(path, carts)
    start = time.perf_counter()
    done = run(path, body_bytes)
    return {"count": done, "seconds": time.perf_counter() - start}
