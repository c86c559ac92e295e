"""kill -9 on real workers (issue 9): `cartrecovery worker` processes share one store and send
to a real SMTP server (aiosmtpd); they are killed with SIGKILL at random moments, again and
again, and started afresh until every reminder is out. Then nothing is lost (every reminder
reached the server and is "sent" in the store), and a reminder reached the server twice only
when the worker that sent it died after the server accepted it and before it recorded the
outcome: the message was still "sending" in the store when that worker died. A worker records
what the server accepted in small groups while it delivers a batch (record_groups.h), so a
kill sends again at most one group's worth plus one message per other SMTP connection
(the batch goes out on CONNECTIONS sessions at once), not the batch.

Each run of a worker sends from an address of its own (run07@kite.example), so the server
tells which run each message came from. Real processes, real time and a short lease (a dead
run's claims move to the others after it); nothing asserts on wall time.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict

from conftest import RECORD_GROUP, seed_overdue_carts, store_execute, store_url

# Six claims of 500 jobs: the workers split the work, and since a kill no longer undoes a
# batch's progress, enough reminders that the loop gets through its kills before all are out.
CARTS = 3000
WORKERS = 2        # alive at once
KILLS = 24
LEASE_SECONDS = 2  # a dead run's claims move after this; a live run renews its own
TIMEOUT = 60       # seconds the workers may take to finish once the killing stops
SEED = 9
CONNECTIONS = 4    # SMTP sessions per worker (the default)
# What a kill may send again (record_groups.h): the group, and one message per other
# connection that the server accepted before the worker's thread could tell the group.
RESEND_BOUND = RECORD_GROUP + CONNECTIONS - 1


def start_run(url: str, port: int, run: str, log_dir) -> subprocess.Popen:
    with open(log_dir / f"{run}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cartrecovery", "worker", "--store", url,
             "--smtp", f"127.0.0.1:{port}", "--smtp-security", "plain",
             "--smtp-connections", str(CONNECTIONS),
             "--sender", f"Kite Shop <{run}@kite.example>",
             "--set", f"worker_id={run}", "--set", f"lease_seconds={LEASE_SECONDS}"],
            stdout=log, stderr=subprocess.STDOUT)


def sending(db_path) -> set[str]:
    return {r[0] for r in store_execute(db_path, "SELECT message_id FROM messages WHERE status = 'sending'")}


def all_sent(db_path) -> bool:
    """Every journey has recorded its reminder 1 (and moved on to reminder 2)."""
    return count(db_path, "SELECT count(*) FROM journeys WHERE next_step >= 1") == CARTS


def first_to_send(sink, slots, n: int, rng: random.Random) -> int:
    """The slot whose run reaches n accepted messages first; a random one when no run sends
    for a while (all of them waiting for a dead run's leases, or nothing left)."""
    deadline = time.monotonic() + 3 * LEASE_SECONDS
    while time.monotonic() < deadline:
        for i, (run, _) in enumerate(slots):
            if sink.count(f"{run}@kite.example") >= n:
                return i
        time.sleep(0.002)
    return rng.randrange(len(slots))


def count(db_path, sql: str) -> int:
    return int(store_execute(db_path, sql)[0][0])


def test_kill_9_loses_nothing_and_resends_only_what_a_dead_worker_left_sending(
        db_path, tmp_path, smtp_server):
    sink, port = smtp_server()
    url = store_url(db_path)
    seed_overdue_carts(url, CARTS)  # abandonment and reminder 1 overdue for every cart
    rng = random.Random(SEED)
    names = (f"run{n:02d}" for n in range(1, KILLS + WORKERS + 1))

    slots = [(run, start_run(url, port, run, tmp_path)) for run in (next(names) for _ in range(WORKERS))]
    left_sending: dict[str, set[str]] = {}  # killed run -> messages "sending" at its death
    try:
        while len(left_sending) < KILLS and not all_sent(db_path):
            if len(left_sending) % 2:
                # Any moment: starting up, claiming, planning, waiting for a dead run's
                # leases, sending or recording.
                time.sleep(rng.uniform(0.0, 0.5))
                i = rng.randrange(WORKERS)
            else:
                # Right after the server accepted a run's n-th message, so the loop surely
                # kills inside the window between acceptance and record.
                i = first_to_send(sink, slots, rng.randint(1, 200), rng)
            run, proc = slots[i]
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(TIMEOUT) == -signal.SIGKILL, (tmp_path / f"{run}.log").read_text()
            left_sending[run] = sending(db_path)
            fresh = next(names)
            slots[i] = (fresh, start_run(url, port, fresh, tmp_path))

        # No more killing: the live runs take over what the dead left and finish.
        deadline = time.monotonic() + TIMEOUT
        while not all_sent(db_path):
            assert time.monotonic() < deadline, "the workers did not finish the reminders"
            for run, proc in slots:
                assert proc.poll() is None, (tmp_path / f"{run}.log").read_text()
            time.sleep(0.05)
    finally:
        for _, proc in slots:
            proc.kill()
            proc.wait()

    messages = dict(store_execute(db_path, "SELECT message_id, status FROM messages"))
    assert len(messages) == CARTS  # reminder 1 of every cart, one row each
    assert set(messages.values()) == {"sent"}
    assert count(db_path, "SELECT count(*) FROM journeys WHERE next_step = 1") == CARTS
    assert count(db_path, "SELECT count(*) FROM jobs WHERE state = 'claimed'") == 0

    # The runs the server accepted each message from, oldest first.
    runs_of: dict[str, list[str]] = defaultdict(list)
    accepted_from: dict[str, set[str]] = defaultdict(set)
    for mail_from, header in sink.deliveries():
        message_id, run = header.strip("<>").split("@", 1)[0], mail_from.split("@", 1)[0]
        runs_of[message_id].append(run)
        accepted_from[run].add(message_id)
    # 0 lost: every reminder reached the server, and nothing else did.
    assert set(runs_of) == set(messages)
    # Duplicates only in the window: every copy but the last came from a run killed while
    # that message was still "sending" (accepted by the server, not yet recorded).
    for message_id, runs in runs_of.items():
        for run in runs[:-1]:
            assert message_id in left_sending.get(run, ()), (
                f"{message_id} reached the server again after {run} had sent it, though {run} "
                f"{'recorded it' if run in left_sending else 'was never killed'} (runs {runs})")
    in_window = [run for run, ids in left_sending.items() if ids & accepted_from[run]]
    # ... and from that run's last group only: per kill at most one group sent again.
    again_after = Counter(run for runs in runs_of.values() for run in runs[:-1])
    print(f"{len(left_sending)} kills, {sum(again_after.values())} sent again (at most "
          f"{max(again_after.values(), default=0)} after one kill, a group holds {RECORD_GROUP}, "
          f"{CONNECTIONS} connections); "
          f"{len(in_window)} kills between acceptance and record")
    assert in_window, "no kill landed between acceptance and record: the loop tested nothing"
    for run, copies in again_after.items():
        assert copies <= RESEND_BOUND, (
            f"{copies} messages {run} sent reached the server again after it was killed: more "
            f"than one group of {RECORD_GROUP} and one message per other connection "
            f"({RESEND_BOUND}) was left unrecorded")
