"""Worker processes for the tests: a child that runs the engine and is killed with SIGKILL
while it holds claimed work, and bounded waits for children. Every wait has a limit: a child
that hangs is killed and the test fails."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

import cartrecovery as cr
from conftest import HOUR, T0

TIMEOUT = 30  # seconds any child may take before the test gives up on it


def wait_child(pid: int, timeout: float = TIMEOUT) -> int:
    """Exit code of forked child `pid`, waiting at most `timeout` seconds (then it is killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"child {pid} did not finish within {timeout} s")


def join_all(procs, timeout: float = TIMEOUT) -> list[int]:
    """Exit codes of multiprocessing children; any still running after `timeout` is killed."""
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join(5)
    assert not hung, f"{len(hung)} child process(es) did not finish within {timeout} s"
    return [p.exitcode for p in procs]


def hang_in_channel(url: str, started, settings: dict, log: str | None, sends: int) -> None:
    """A worker at T0 + 1 h whose channel writes each message id to `log` (if given) and, at
    its `sends`-th message, sets `started` and hangs: after the batch's "sending" mark,
    before its record."""
    sent = 0

    def deliver(message):
        nonlocal sent
        sent += 1
        if log:
            with open(log, "a") as f:
                f.write(message["message_id"] + "\n")
        if sent >= sends:
            started.set()
            time.sleep(120)  # the parent kills us here

    engine = cr.Engine(store=url, clock=cr.ManualClock(T0 + HOUR),
                       channels={"email": cr.CallbackChannel(deliver)},
                       settings={"shop_name": "Kite Shop", **settings})
    engine.run_due()


def kill_while_sending(url: str, *, settings: dict | None = None, log=None, sends: int = 1,
                       why: str = "the child never reached the channel") -> None:
    """Runs hang_in_channel in a spawned process and kills it (SIGKILL: no cleanup, its
    claims and "sending" marks stay in the store) once it hangs."""
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    child = ctx.Process(target=hang_in_channel,
                        args=(url, started, settings or {}, str(log) if log else None, sends))
    child.start()
    try:
        assert started.wait(TIMEOUT), why
    finally:
        child.kill()
        child.join(TIMEOUT)
