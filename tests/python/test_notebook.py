"""The analyst's helpers (cartrecovery.notebook): DataFrames with exactly the engine's
numbers for outcomes built by hand, figures with one bar or point per thing they show, a
clear message without the extra installed, and the example notebook run headless."""
from __future__ import annotations

import importlib
import math
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("pandas", reason='needs the notebook extra: pip install "cartrecovery[notebook]"')
pytest.importorskip("matplotlib", reason='needs the notebook extra: pip install "cartrecovery[notebook]"')

import pandas as pd  # noqa: E402

import cartrecovery as cr  # noqa: E402
from cartrecovery.notebook import (  # noqa: E402
    experiment_frame, funnel_frame, messages_frame, plot_funnel, plot_revenue, plot_variants,
    report_frame, revenue_frame)
from conftest import DAY, HOUR, SETTINGS, T0, add_cart, run_at  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook" / "recovery.ipynb"
MIDNIGHT = T0.replace(hour=0)


def shop(make_engine, clock) -> cr.Engine:
    """Reminder 1 to four carts at T0+1h (a customer and three visitors). Ann orders 59.97
    the same day; Bob orders 249.00 two days later; nothing happens the day between."""
    engine = make_engine(store=":memory:")
    add_cart(engine, "c1", email="ann@example.com")
    add_cart(engine, "c2", email="bob@example.com")
    engine.track("checkout_stage", cart_id="c2", stage="payment")
    add_cart(engine, "c3", email="cy@example.com", orders_count=1)
    add_cart(engine, "c4", email="dee@example.com")
    run_at(engine, clock, T0 + HOUR)
    clock.set(T0 + 2 * HOUR)
    engine.track("order_placed", order_id="o1", cart_id="c1", value="59.97", currency="EUR")
    clock.set(T0 + 2 * DAY)
    engine.track("order_placed", order_id="o2", cart_id="c2", value="249.00", currency="EUR")
    return engine


def test_report_frame_holds_the_engines_rows_exactly(make_engine, clock):
    engine = shop(make_engine, clock)
    frame = report_frame(engine, by=("path", "step"))
    rows = engine.report(by=("path", "step"))
    assert len(frame) == len(rows) == 2
    for (_, got), want in zip(frame.iterrows(), rows):
        for key in ("path", "step", "sent", "opened", "clicked", "orders", "orders_with_coupon",
                    "ctr", "conversion"):
            assert got[key] == want[key], key
        # No orders, no currency: None, or NaN where pandas infers its string dtype (pandas 3).
        assert got["currency"] == want["currency"] if want["currency"] else pd.isna(got["currency"])
        assert got["revenue_exact"] == want["revenue"] and isinstance(got["revenue_exact"], Decimal)
        assert got["revenue"] == float(want["revenue"])
    by_path = frame.set_index("path")
    assert (by_path.loc["visitor", "sent"], by_path.loc["visitor", "orders"]) == (3, 2)
    assert by_path.loc["visitor", "revenue_exact"] == Decimal("308.97")
    assert by_path.loc["customer", "orders"] == 0
    [only] = report_frame(engine, by=(), path="customer").to_dict("records")
    assert (only["sent"], only["orders"]) == (1, 0)


def test_revenue_frame_has_every_day_with_exact_money(make_engine, clock):
    engine = shop(make_engine, clock)
    frame = revenue_frame(engine)
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert [d.date().isoformat() for d in frame.index] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert frame["orders"].tolist() == [1, 0, 1]
    assert frame["revenue_exact"].tolist() == [Decimal("59.97"), Decimal(0), Decimal("249.00")]
    assert frame["revenue_exact"].sum() == Decimal("308.97")
    assert frame["sent"].tolist() == [4, 0, 0]
    # A given range spans every day of it, even before and after the data.
    wide = revenue_frame(engine, since=MIDNIGHT - DAY, until=MIDNIGHT + 5 * DAY)
    assert len(wide) == 6 and wide["orders"].sum() == 2
    assert wide.loc["2026-03-01", "revenue"].item() == 0.0


def test_funnel_and_experiment_frames_match_the_engine(make_engine, clock):
    engine = shop(make_engine, clock)
    funnel = funnel_frame(engine)
    assert funnel.index.tolist() == [r["stage"] for r in engine.funnel()]
    assert funnel.loc["contact", ["carts", "abandoned", "recovered"]].tolist() == [3, 3, 1]
    assert funnel.loc["payment", ["carts", "abandoned", "recovered"]].tolist() == [1, 1, 1]
    assert funnel.loc["contact", "recovery_rate"] == pytest.approx(1 / 3)
    assert math.isnan(funnel.loc["cart", "abandonment_rate"])  # no carts: nothing to divide

    engine = make_engine(store=":memory:", settings={
        **SETTINGS, "coupon_pools": [{"name": "p", "kind": "generated", "percent": 10}],
        "exit_intent": {"pool": "p", "incentive": {"share": 1.0},
                        "experiments": {"coupon": {"variants": {"A": 1}, "holdout": 1}}}})
    for i in range(30):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", visitor_id=f"v{i}")
        engine.track("checkout_stage", cart_id=f"c{i}", stage="payment")
        engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")
        if i % 3 == 0:
            engine.track("order_placed", order_id=f"o{i}", cart_id=f"c{i}", value="1", currency="EUR")
    frame = experiment_frame(engine, "coupon")
    for r in engine.experiment_report("coupon"):
        got = frame.loc[r["variant"]]
        assert (got["trials"], got["conversions"], got["rate"]) == (r["trials"], r["conversions"], r["rate"])
        assert (got["ci_low"], got["ci_high"]) == r["ci"]
        assert got["holdout"] == (r["variant"] == "holdout")
        if r["vs_holdout"]:
            assert got["difference"] == r["vs_holdout"]["difference"]
        else:
            assert math.isnan(got["difference"])
    assert frame["trials"].sum() == 30


def test_messages_frame_is_the_message_log_with_utc_times(make_engine, clock):
    engine = shop(make_engine, clock)
    frame = messages_frame(engine)
    assert frame["message_id"].tolist() == [m["message_id"] for m in engine.messages()]
    assert "text" not in frame and "html" not in frame
    assert str(frame["sent_at"].dt.tz) == "UTC" and (frame["sent_at"] == pd.Timestamp(T0 + HOUR)).all()
    assert messages_frame(engine, cart_id="c1")["cart_id"].tolist() == ["c1"]
    assert len(messages_frame(engine, since=T0 + 2 * HOUR)) == 0
    assert "text" in messages_frame(engine, bodies=True)


def test_figures_draw_one_mark_per_value(make_engine, clock):
    engine = shop(make_engine, clock)
    revenue = revenue_frame(engine)
    [ax] = plot_revenue(revenue).axes
    assert [p.get_height() for p in ax.patches] == pytest.approx([59.97, 0.0, 249.00])
    assert ax.get_ylabel() == "EUR"
    [ax] = plot_funnel(engine).axes
    assert len(ax.patches) == 5 * 3  # every stage: carts, abandoned, recovered
    widths = {(p.get_gid(), round(p.get_y() + p.get_height() / 2)): p.get_width() for p in ax.patches}
    assert widths[("carts", 1)] == 3 and widths[("recovered", 4)] == 1  # contact, payment
    frame = pd.DataFrame({"trials": [50, 40], "conversions": [10, 4], "rate": [0.2, 0.1],
                          "ci_low": [0.11, 0.04], "ci_high": [0.33, 0.23], "holdout": [False, True]},
                         index=pd.Index(["A", "holdout"], name="variant"))
    [ax] = plot_variants(frame, "made-up").axes
    assert len(ax.containers) == 2  # one error bar per variant
    assert [c.lines[0].get_xdata()[0] for c in ax.containers] == [0.2, 0.1]
    [dashed] = [line for line in ax.lines if line.get_gid() == "holdout-rate"]
    assert dashed.get_xdata()[0] == 0.1
    assert ax.get_title() == "Conversion per variant: made-up"


def test_an_empty_store_gives_empty_frames_and_says_so_in_figures(make_engine):
    engine = make_engine(store=":memory:")
    assert report_frame(engine).empty and "revenue_exact" in report_frame(engine)
    assert revenue_frame(engine).empty and messages_frame(engine).empty
    assert funnel_frame(engine)["carts"].sum() == 0
    for fig, text in ((plot_revenue(engine), "No recovered revenue yet"), (plot_funnel(engine), "No carts yet")):
        [ax] = fig.axes
        assert not ax.patches and [t.get_text() for t in ax.texts] == [text]
    with pytest.raises(cr.ValidationError) as e:
        plot_variants(engine)
    assert e.value.field == "name" and "none" in str(e.value)
    with pytest.raises(cr.ValidationError) as e:
        plot_revenue("sqlite:///recovery.db")
    assert e.value.field == "data"


def test_without_the_extra_the_import_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    monkeypatch.delitem(sys.modules, "cartrecovery.notebook")
    with pytest.raises(ImportError) as e:
        importlib.import_module("cartrecovery.notebook")
    assert 'pip install "cartrecovery[notebook]"' in str(e.value) and "pandas" in str(e.value)


# ---- the example notebook --------------------------------------------------------------------
def test_the_example_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_example_notebook_runs_headless_without_errors(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
    from jupyter_client.manager import AsyncKernelManager

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel inherits it: its store lands here
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The venv's own python3 kernel, over IPC sockets in tmp_path rather than loopback TCP.
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "kernel"))
    client = nbclient.NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(cleanup_kc=True)  # a kernel manager passed in is not shut down unless asked
    assert not km.has_kernel
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert not errors, errors
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # revenue, funnel, variants
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    report = Path(re.search(r"wrote (\S+report\.html)", printed).group(1))
    assert report.is_relative_to(tmp_path) and "Recovered revenue" in report.read_text(encoding="utf-8")


def test_messages_frame_holds_every_message_not_a_first_page(make_engine, clock):
    engine = make_engine(store=":memory:", settings=SETTINGS)
    for i in range(1005):  # more than messages()'s default page
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    frame = messages_frame(engine)
    assert len(frame) == 1005 and frame["cart_id"].nunique() == 1005
