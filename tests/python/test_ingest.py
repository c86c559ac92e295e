"""Ingest: one event that cannot be applied is refused alone, the rest of its batch lands."""

import pytest

import cartrecovery as cr
from conftest import KITE, add_cart, store_execute


def test_an_event_that_cannot_be_applied_does_not_take_its_batch_down(make_engine, db_path):
    engine = make_engine()
    add_cart(engine, "bad")
    engine.flush()
    # Damage one stored cart behind the engine's back, so applying an update to it fails.
    store_execute(db_path, "UPDATE carts SET items = '{broken' WHERE cart_id = 'bad'")
    item = dict(KITE)
    engine.track_many([
        {"type": "cart_updated", "cart_id": "good1", "items": [item], "currency": "EUR"},
        {"type": "cart_updated", "cart_id": "bad", "items": [item], "currency": "EUR"},
        {"type": "cart_updated", "cart_id": "good2", "items": [item], "currency": "EUR"},
    ])
    with pytest.raises(cr.StoreError, match="cart_updated could not be applied"):
        engine.flush()
    assert engine.cart("good1")["items"][0]["sku"] == "KITE-1"
    assert engine.cart("good2")["items"][0]["sku"] == "KITE-1"
    assert "could not be applied" in engine.status()["last_error"]
    engine.flush()  # the failure was reported once; later flushes are clean
