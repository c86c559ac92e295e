"""Times cross into the core as UTC milliseconds; the API speaks aware datetimes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ._core import ValidationError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ms(value: datetime, field: str = "at") -> int:
    if not isinstance(value, datetime):
        err = ValidationError(f"{field}: expected an aware datetime, got {type(value).__name__}")
        err.field = field
        raise err
    if value.tzinfo is None or value.utcoffset() is None:
        err = ValidationError(f"{field}: naive datetime; give it a tzinfo (e.g. timezone.utc)")
        err.field = field
        raise err
    return (value - _EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return _EPOCH + timedelta(milliseconds=ms)


def duration_ms(value: timedelta | int | float, field: str = "delta") -> int:
    if isinstance(value, timedelta):
        return value // timedelta(milliseconds=1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1000)
    err = ValidationError(f"{field}: expected a timedelta or seconds, got {type(value).__name__}")
    err.field = field
    raise err
