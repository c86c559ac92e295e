"""The flow files shipped in examples/flows load and behave as written."""
import pathlib

import cartrecovery as cr
from conftest import DAY, HOUR, T0, add_cart, run_at

FLOWS = pathlib.Path(__file__).resolve().parents[2] / "examples" / "flows"


def test_example_flow_files_are_canonical_when_loaded():
    for path in FLOWS.glob("*.json"):
        flow = cr.Flow.from_file(path)
        assert cr.Flow.from_json(flow.to_json()) == flow


def test_four_step_email_and_sms_flow(make_engine, clock):
    flow = cr.Flow.from_file(FLOWS / "email-and-sms.json")
    engine = make_engine(flows=[flow], channels={"email": cr.OutboxChannel(), "sms": cr.OutboxChannel()})
    add_cart(engine, "small", items=[{"sku": "S", "price": "10", "quantity": 1}], email="s@example.com")
    add_cart(engine, "big", items=[{"sku": "B", "price": "30", "quantity": 1}], email="b@example.com",
             phone="+48601234567", consent={"sms": True})
    # abandon_after 30m; steps at +1h, then +1d, +2d, +3d after the previous send.
    for t in (T0 + HOUR, T0 + HOUR + DAY, T0 + HOUR + 3 * DAY, T0 + HOUR + 6 * DAY):
        run_at(engine, clock, t)
    small = engine.messages("small")
    assert [(m["status"], m["reason"]) for m in small] == [("suppressed", "below_min_value")]
    big = [(m["step"], m["channel"], m["status"], m["sent_at"]) for m in engine.messages("big")]
    assert big == [
        (1, "email", "sent", T0 + HOUR),
        (2, "email", "sent", T0 + HOUR + DAY),
        (2, "sms", "sent", T0 + HOUR + DAY),
        (3, "email", "sent", T0 + HOUR + 3 * DAY),
        (4, "sms", "sent", T0 + HOUR + 6 * DAY),
    ]
