"""ManualClock: time that moves only when told to, so tests and notebooks replay days in
milliseconds. Advancing it wakes a running worker."""
from __future__ import annotations

from datetime import datetime, timedelta

from . import _core
from ._time import duration_ms, from_ms, to_ms


class ManualClock:
    def __init__(self, start: datetime):
        self._native = _core.ManualClock(to_ms(start, "start"))

    def now(self) -> datetime:
        return from_ms(self._native.now_ms())

    def set(self, when: datetime) -> None:
        self._native.set_ms(to_ms(when, "when"))

    def advance(self, delta: timedelta | int | float) -> datetime:
        """Moves the clock forward by a timedelta or a number of seconds; returns the new now."""
        ms = duration_ms(delta)
        if ms < 0:
            raise ValueError("a clock only moves forward; use set() to go back")
        self._native.advance_ms(ms)
        return self.now()

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"
