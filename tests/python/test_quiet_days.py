"""Quiet days for Romania (Orthodox Easter, 1 December, ...) and Iran (the Friday weekend,
Nowruz and the other Solar Hijri holidays; the lunar ones are the shop's to add), and the
shop's own dates (`quiet_hours.<channel>.dates`). The calendars are checked against an
independent source, the `holidays` package, for 2020-2035."""
from __future__ import annotations

import datetime as dt

import pytest

import cartrecovery as cr
from conftest import HOUR, SETTINGS, add_cart, run_at

holidays = pytest.importorskip("holidays")  # tests/bootstrap.sh installs it with the test deps

UTC = dt.timezone.utc
YEARS = range(2020, 2036)
# Iran's Solar Hijri holidays as the `holidays` package names them; the rest of its list is
# lunar (moving, often "estimated") or one-off closures ("Public Holiday").
IR_SOLAR = {"Nowruz", "Nowruz Holiday", "Islamic Republic Day", "Nature's Day",
            "Death of Imam Khomeini", "15 Khordad Uprising", "Islamic Revolution Day",
            "Iranian Oil Industry Nationalization Day", "Last Day of Year"}


@pytest.mark.parametrize("year", YEARS)
def test_romanian_holidays_match_an_independent_calendar(year):
    assert cr.public_holidays("RO", year) == sorted(holidays.RO(years=year))


@pytest.mark.parametrize("year", YEARS)
def test_iranian_solar_holidays_match_an_independent_calendar(year):
    expected = sorted(d for d, names in holidays.IR(years=year).items()
                      if set(names.split("; ")) & IR_SOLAR)
    assert cr.public_holidays("IR", year) == expected


def test_orthodox_easter_is_not_the_western_one():
    ro, de = cr.public_holidays("RO", 2026), cr.public_holidays("DE", 2026)
    assert dt.date(2026, 4, 12) in ro and dt.date(2026, 4, 13) in ro  # Orthodox Easter
    assert dt.date(2026, 4, 6) in de and dt.date(2026, 4, 6) not in ro  # Western Easter Monday
    assert dt.date(2026, 12, 1) in ro


def test_an_unknown_country_is_refused():
    with pytest.raises(cr.ValidationError) as e:
        cr.public_holidays("XX", 2026)
    assert e.value.field == "country"


def _sms_engine(make_engine, quiet, timezone):
    flow = {"name": "sms", "abandon_after": "1h", "paths": [{"name": "all", "steps": [
        {"after": "1h", "channels": ["sms"]}]}]}
    return make_engine(flows=[flow], channels={"sms": cr.OutboxChannel()},
                       settings={**SETTINGS, "policies": {"timezone": timezone,
                                                          "quiet_hours": {"sms": quiet}}})


def _due_then(make_engine, clock, quiet, timezone, due):
    engine = _sms_engine(make_engine, quiet, timezone)
    clock.set(due - HOUR)  # S1: step 1 is due an hour after the last activity
    add_cart(engine, phone="+40712345678", consent={"sms": True})
    run_at(engine, clock, due)
    (m,) = engine.messages("c1")
    return engine, m


def _local(text, zone):
    from zoneinfo import ZoneInfo
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _assert_sent_or_moved(make_engine, clock, quiet, zone, due, allowed):
    """An SMS due at `due` (local) goes at once when `allowed == due`, else waits, as a quiet
    day, until `allowed` (local)."""
    engine, m = _due_then(make_engine, clock, quiet, zone, _local(due, zone))
    if due == allowed:
        assert m["status"] == "sent"
        return
    assert (m["status"], m["reason"]) == ("deferred", "quiet_day")
    assert m["due_at"] == _local(allowed, zone)


@pytest.mark.parametrize("due, allowed", [
    # Orthodox Good Friday 2026 (10 April): Saturday 09:00 (Holy Saturday is a workday).
    ("2026-04-10T12:00", "2026-04-11T09:00"),
    # Orthodox Easter Sunday and Monday (12, 13 April): Tuesday 09:00.
    ("2026-04-12T12:00", "2026-04-14T09:00"),
    # National Day, Tuesday 1 December 2026 (St Andrew on Monday 30 Nov): Wednesday 09:00.
    ("2026-11-30T12:00", "2026-12-02T09:00"),
    # An ordinary Thursday: at once.
    ("2026-04-16T12:00", "2026-04-16T12:00"),
])
def test_romanian_quiet_days_move_an_sms(make_engine, clock, due, allowed):
    zone = "Europe/Bucharest"
    quiet = {"from": "20:00", "until": "09:00", "holidays": "RO"}
    _assert_sent_or_moved(make_engine, clock, quiet, zone, due, allowed)


@pytest.mark.parametrize("due, allowed", [
    # Friday is Iran's weekend: Saturday 09:00.
    ("2026-06-12T12:00", "2026-06-13T09:00"),
    # Nowruz 1405: 1-4 Farvardin = 21-24 March 2026 -> Wednesday 25 March 09:00.
    ("2026-03-21T12:00", "2026-03-25T09:00"),
    # A Thursday: at once.
    ("2026-06-11T12:00", "2026-06-11T12:00"),
])
def test_iranian_quiet_days_and_the_friday_weekend(make_engine, clock, due, allowed):
    zone = "Asia/Tehran"
    quiet = {"from": "20:00", "until": "09:00", "holidays": "IR"}
    _assert_sent_or_moved(make_engine, clock, quiet, zone, due, allowed)


def test_the_shop_adds_its_own_dates_one_off_and_yearly(make_engine, clock):
    # Tasua and Ashura 1448 (24-25 June 2026, lunar: the shop adds them), and 24 December
    # every year.
    zone = "Asia/Tehran"
    quiet = {"from": "20:00", "until": "09:00", "holidays": "IR",
             "dates": ["2026-06-24", "2026-06-25", "12-24"]}
    engine, m = _due_then(make_engine, clock, quiet, zone, _local("2026-06-24T12:00", zone))
    assert (m["status"], m["reason"]) == ("deferred", "quiet_day")
    assert m["due_at"] == _local("2026-06-27T09:00", zone)  # 26 June is a Friday


def test_a_yearly_shop_date_repeats(make_engine, clock):
    zone = "Europe/Bucharest"
    quiet = {"dates": ["12-24"]}
    engine, m = _due_then(make_engine, clock, quiet, zone, _local("2031-12-24T12:00", zone))
    assert (m["status"], m["reason"]) == ("deferred", "quiet_day")
    assert m["due_at"] == _local("2031-12-25T00:00", zone)


@pytest.mark.parametrize("dates, field", [
    (["2026-02-30"], "policies.quiet_hours.sms.dates[0]"),
    (["24.12."], "policies.quiet_hours.sms.dates[0]"),
    (["2026-06-24", "13-01"], "policies.quiet_hours.sms.dates[1]"),
    ("2026-06-24", "policies.quiet_hours.sms.dates"),
])
def test_a_bad_shop_date_names_its_place(make_engine, dates, field):
    with pytest.raises(cr.ConfigError) as e:
        _sms_engine(make_engine, {"dates": dates}, "UTC")
    assert e.value.field == field
