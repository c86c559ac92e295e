"""Rate limits shared by several web processes (issue 10, item 3; abuse.py "shared"): on each
adapter, one shop instance in this process and another in a spawned process, both served
over real HTTP on one store and one real Redis. Beacons and exit-intent calls sent to both
in turn are accepted at most the limit's count in all (429 with Retry-After beyond it),
where the in-process buckets would let each instance take the whole limit.

Every wait is bounded: a child that hangs is killed and the test fails."""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import uuid

import pytest

import cartrecovery as cr
from cartrecovery import abuse, web
from conftest import T0
from test_hostile_http import Shop, make_shop, serving  # noqa: F401 (make_shop: a fixture)
from test_processes import join_all

REDIS = os.environ.get("CARTRECOVERY_TEST_REDIS", "redis://127.0.0.1:6379/15")
TIMEOUT = 30


def _need_redis():
    import redis  # a test dependency (tests/bootstrap.sh): missing, the test fails
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as e:
        pytest.fail(f"Redis for the tests ({REDIS}) is not reachable: {e}; start it "
                    "(.ci/run does) or point CARTRECOVERY_TEST_REDIS at one")


def _second_shop(kind: str, store: str, rate_limits: dict, ready, stop) -> None:
    """A shop of the same adapter in its own process: serves until `stop`, then closes its
    engine (nothing it accepted is lost) and exits."""
    clock = cr.ManualClock(T0)
    if kind == "flask":
        from flask_testshop import create_app
        app = create_app(store, CLOCK=clock, RATE_LIMITS=rate_limits)
        close = app.extensions["cartrecovery"].holder.close
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
        import django
        django.setup()
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application
        import cartrecovery.django as crd
        settings.CARTRECOVERY = {**settings.CARTRECOVERY, "STORE": store, "CLOCK": clock,
                                 "RATE_LIMITS": rate_limits}
        crd.reset()
        app, close = get_wsgi_application(), crd.reset
    with serving(app) as port:
        ready.put(port)
        stop.wait(TIMEOUT)
    close()


@pytest.fixture
def two_shops(make_shop, request, tmp_path):
    """two_shops(rate_limits) -> (shop here, shop in another process, count of stored events)."""
    ctx = multiprocessing.get_context("spawn")
    children = []

    def make(rate_limits: dict):
        kind = request.node.callspec.params["make_shop"]
        here = make_shop(rate_limits)
        ready, stop = ctx.Queue(), ctx.Event()
        child = ctx.Process(target=_second_shop,
                            args=(kind, f"sqlite:///{tmp_path / (kind + '.db')}", rate_limits, ready, stop))
        child.start()
        children.append((child, stop))
        there = Shop(ready.get(timeout=TIMEOUT), here.secret, None, here.prefix)

        def stored() -> int:
            stop.set()
            assert join_all([child], TIMEOUT) == [0]
            return len(here.stored())
        return here, there, stored

    yield make
    for child, stop in children:
        stop.set()
        join_all([child], TIMEOUT)


def _beacon(shop: Shop, visitor: str, **headers) -> tuple[int, dict]:
    status, headers_back, _ = shop.post("b", {"t": shop.token(visitor), "events": [{"type": "page_view"}]},
                                        **headers)
    return status, headers_back


def test_two_processes_share_one_visitor_limit(two_shops):
    _need_redis()
    here, there, stored = two_shops({"beacon_per_visitor": "6/h", "beacon_per_address": None,
                                     "shared": REDIS})
    visitor = f"v_{uuid.uuid4().hex}"  # fresh buckets whatever ran on this Redis before
    answers = [_beacon(shop, visitor) for _ in range(10) for shop in (here, there)]
    statuses = [s for s, _ in answers]
    assert statuses[:6] == [204] * 6 and set(statuses[6:]) == {429}, statuses
    assert all(1 <= int(h["Retry-After"]) <= 600 for s, h in answers if s == 429)
    # Another visitor has a bucket of its own.
    assert _beacon(there, f"v_{uuid.uuid4().hex}")[0] == 204
    assert stored() == 7


def test_two_processes_share_the_address_and_exit_intent_limits(two_shops):
    _need_redis()
    here, there, _ = two_shops({"beacon_per_visitor": None, "beacon_per_address": "4/h",
                                "exit_intent_per_visitor": "3/h", "exit_intent_per_address": None,
                                "address_header": "X-Forwarded-For", "shared": REDIS})
    address = f"198.51.100.7, 2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # fresh bucket
    statuses = [_beacon(shop, f"v{i}", **{"X-Forwarded-For": address})[0]
                for i in range(4) for shop in (here, there)]
    assert statuses == [204] * 4 + [429] * 4
    token = here.token(f"v_{uuid.uuid4().hex}")
    exits = [shop.post("x", {"t": token})[0] for _ in range(3) for shop in (here, there)]
    assert exits == [200, 200, 200, 429, 429, 429]


def test_without_shared_each_process_counts_alone(two_shops):
    # What "shared" is for: in-process buckets give each instance the whole limit.
    here, there, stored = two_shops({"beacon_per_visitor": "6/h", "beacon_per_address": None})
    statuses = [_beacon(shop, "v_alone")[0] for _ in range(10) for shop in (here, there)]
    assert statuses.count(204) == 12
    assert stored() == 12


def test_a_missing_or_silent_redis_is_a_config_error_naming_the_setting(monkeypatch):
    with pytest.raises(cr.ConfigError, match="does not answer") as err:
        abuse.Limits({"shared": "redis://:hunter2@127.0.0.1:1/0"})  # nothing listens on port 1
    assert err.value.field == "RATE_LIMITS.shared" and "hunter2" not in str(err.value)
    with pytest.raises(cr.ConfigError, match="Redis URL") as err:
        abuse.Limits({"shared": "http://127.0.0.1:6379"})
    assert err.value.field == "RATE_LIMITS.shared"
    with pytest.raises(cr.ConfigError, match="Redis URL") as err:  # a typo in the scheme
        abuse.Limits({"shared": "reddis://:hunter2@127.0.0.1:6379/0"})
    assert "hunter2" not in str(err.value)
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the package were not installed
    with pytest.raises(cr.ConfigError, match=r"pip install 'cartrecovery\[redis\]'") as err:
        abuse.Limits({"shared": REDIS})
    assert err.value.field == "RATE_LIMITS.shared"
    cfg = web.AdapterSettings({"RATE_LIMITS": {"shared": REDIS}, "SECRET": "x" * 20,
                               "BASE_URL": "https://s.example/cr/"}, environ={})
    assert any("RATE_LIMITS.shared" in p for p in cfg.problems())


def test_requests_go_through_when_redis_goes_away(caplog):
    _need_redis()
    limits = abuse.Limits({"beacon_per_visitor": "1/h", "shared": REDIS})
    visitor = f"v_{uuid.uuid4().hex}"
    limits.take("beacon", "visitor", visitor)
    with pytest.raises(abuse.RateLimited):
        limits.take("beacon", "visitor", visitor)
    buckets = limits._buckets["beacon_per_visitor"]
    buckets.client.connection_pool.reset()
    buckets.client.connection_pool.connection_kwargs.update(port=1)  # the server is gone
    with caplog.at_level("WARNING", logger="cartrecovery.abuse"):
        limits.take("beacon", "visitor", visitor)
        limits.take("beacon", "visitor", visitor)
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis does not answer" in caplog.records[0].message
