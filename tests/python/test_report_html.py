"""The HTML report and its SVG charts: the engine's exact numbers for outcomes built by hand,
names from the store escaped everywhere, charts that parse as XML and say in words what they
show, an empty store that renders, and `cartrecovery report --html`."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

import cartrecovery as cr
from cartrecovery.charts import funnel_chart, revenue_chart, variant_chart
from cartrecovery.cli import main
from cartrecovery.report_html import render_report
from conftest import DAY, HOUR, SETTINGS, T0, add_cart, run_at

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & \x01'


def shop(make_engine, clock, **kwargs) -> cr.Engine:
    """Known outcomes. Three carts with an e-mail get reminder 1 at T0+1h; Ann opens, clicks
    and orders 59.97, Bob (who had reached payment) opens and orders 249.00; Cy, a customer, does
    nothing; a fourth cart never had an e-mail (its reminder is suppressed: no_contact).
    Visitors: h1 (Ann's, who orders), w1 viewed a product, k1 only the home page."""
    engine = make_engine(store=":memory:", **kwargs)
    add_cart(engine, "c1", email="ann@example.com", visitor_id="h1")
    add_cart(engine, "c2", email="bob@example.com")
    engine.track("checkout_stage", cart_id="c2", stage="payment")
    add_cart(engine, "c3", email="cy@example.com", orders_count=1)
    add_cart(engine, "c4", email=None)
    engine.track("page_view", visitor_id="h1", page_type="product", product_id="KITE-1")
    engine.track("page_view", visitor_id="w1", page_type="product", product_id="KITE-1")
    engine.track("page_view", visitor_id="k1", page_type="home")
    assert run_at(engine, clock, T0 + HOUR) > 0
    [ann], [bob] = engine.messages(cart_id="c1"), engine.messages(cart_id="c2")
    clock.set(T0 + 2 * HOUR)
    engine.track("message_opened", message_id=ann["message_id"])
    engine.track("message_opened", message_id=bob["message_id"])
    engine.track("link_clicked", message_id=ann["message_id"], url="https://kite.example/cart")
    engine.track("order_placed", order_id="o1", cart_id="c1", value="59.97", currency="EUR")
    engine.track("order_placed", order_id="o2", cart_id="c2", value="249.00", currency="EUR")
    return engine


def tile(html: str, key: str) -> str:
    return re.search(rf'<div data-key="{key}"><dt>[^<]*</dt><dd>(.*?)</dd>', html).group(1)


def charts(html: str) -> dict[str, ET.Element]:
    found = {}
    for text in re.findall(r"<svg\b.*?</svg>", html, re.S):
        svg = ET.fromstring(text)  # raises if any text was not escaped for XML
        found[svg.get("id")] = svg
    return found


def test_the_report_shows_the_engines_exact_numbers(make_engine, clock):
    engine = shop(make_engine, clock)
    html = render_report(engine)
    # Three reminders, two opened, one clicked, two orders worth 59.97 + 249.00.
    assert [tile(html, k) for k in ("sent", "opened", "clicked", "orders", "ctr", "conversion")] == \
        ["3", "2", "1", "2", "33.3%", "66.7%"]
    assert tile(html, "revenue") == "308.97 <small>EUR</small>"
    row = re.search(r'<tr><td class="cr-key">cart-recovery</td><td class="cr-key">1</td>'
                    r'<td class="cr-key">email</td>(.*?)</tr>', html).group(1)
    cells = dict(re.findall(r'data-key="(\w+)">([^<]*)</td>', row))
    assert cells == {"sent": "3", "delivered": "3", "failed": "0", "suppressed": "1", "opened": "2",
                     "clicked": "1", "unsubscribed": "0", "ctr": "33.3%", "orders": "2",
                     "orders_with_coupon": "0", "conversion": "66.7%", "revenue": "308.97 EUR"}
    funnel = {stage: tuple(map(int, counts)) for stage, *counts in re.findall(
        r'<tr data-stage="(\w+)"><th scope="row">[^<]*</th><td class="cr-n">(\d+)</td>'
        r'<td class="cr-n">(\d+)</td><td class="cr-n">[^<]*</td><td class="cr-n">(\d+)</td>', html)}
    # (carts, abandoned, recovered): c4 at cart; Ann and Cy at contact, Ann came back; Bob at payment.
    assert funnel == {"cart": (1, 1, 0), "contact": (2, 2, 1), "shipping_address": (0, 0, 0),
                      "shipping_method": (0, 0, 0), "payment": (1, 1, 1)}
    # Leads (S9): Cy reached checkout (contact) without ordering: hot; w1 viewed a product and
    # c4 never reached checkout: warm; k1 only saw the home page: cold; Ann (h1) and Bob ordered.
    assert [tile(html, k) for k in ("hot", "warm", "cold")] == ["1", "2", "1"]
    assert "Kite Shop" in html and "as of 2026-03-02 11:00 UTC" in html and "all time" in html
    [bar] = charts(html)["cr-revenue-chart"].iter(f"{SVG}rect")
    assert bar.get("data-day") == "2026-03-02"
    assert bar.find(f"{SVG}title").text == "2026-03-02: 308.97 EUR from 2 orders"


def test_the_period_narrows_every_number(make_engine, clock):
    engine = shop(make_engine, clock)
    clock.set(T0 + DAY + 3 * HOUR)
    engine.track("order_placed", order_id="o3", cart_id="c3", value="10.00", currency="EUR")
    next_day = render_report(engine, since=T0.replace(hour=0) + DAY, until=T0.replace(hour=0) + 2 * DAY)
    assert "2026-03-03 to 2026-03-03 (UTC)" in next_day
    assert [tile(next_day, k) for k in ("sent", "orders")] == ["0", "1"]  # Cy's order, after her reminder
    assert tile(next_day, "revenue") == "10.00 <small>EUR</small>"
    assert "No carts in this period yet." in next_day  # the carts were all made on the first day
    everything = render_report(engine)
    assert tile(everything, "revenue") == "318.97 <small>EUR</small>"
    days = [r.get("data-day") for r in charts(everything)["cr-revenue-chart"].iter(f"{SVG}rect")]
    assert days == ["2026-03-02", "2026-03-03"]


def test_names_from_the_store_cannot_inject_markup(make_engine, clock):
    flow = cr.Flow.from_json({"name": EVIL, "paths": [{"name": "everyone", "steps": [
        {"after": "1h", "channels": ["email"], "experiment": f"exp {EVIL}", "holdout": 1,
         "variants": [{"name": '<img src=x onerror="alert(1)">', "weight": 1}]}]}]})
    engine = make_engine(store=":memory:", flows=[flow],
                         settings={**SETTINGS, "shop_name": "Kite <b>&</b> Co"})
    for i in range(12):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com")
    run_at(engine, clock, T0 + HOUR)
    engine.track("order_placed", order_id="o0", cart_id="c0", value="1.00", currency="EUR")
    for html in (render_report(engine, title="<i>Monthly</i>"), render_report(engine, full_page=False)):
        assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; \ufffd" in html
        assert "Kite &lt;b&gt;&amp;&lt;/b&gt; Co" in html
        svgs = charts(html)
        assert {"cr-revenue-chart", "cr-funnel-chart", "cr-experiment-0"} <= set(svgs)
        labels = ["".join(t.itertext()) for t in svgs["cr-experiment-0"].iter(f"{SVG}text")]
        assert any(label.startswith("<img src=x") for label in labels)  # shown as text, not markup
    assert "&lt;i&gt;Monthly&lt;/i&gt;" in render_report(engine, title="<i>Monthly</i>")


def test_every_chart_parses_and_says_what_it_shows(make_engine, clock):
    engine = shop(make_engine, clock)
    svgs = charts(render_report(engine))
    assert set(svgs) == {"cr-revenue-chart", "cr-funnel-chart"}
    for chart_id, svg in svgs.items():
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert title.text and desc.text
    funnel = svgs["cr-funnel-chart"]
    bars = [(r.get("data-stage"), r.get("data-series")) for r in funnel.iter(f"{SVG}rect") if r.get("data-stage")]
    assert len(bars) == 5 * 3  # every stage: carts, abandoned, recovered
    assert "payment: 1 carts, 1 abandoned, 1 recovered" in funnel.find(f"{SVG}desc").text
    assert "308.97 EUR in total from 2 orders" in svgs["cr-revenue-chart"].find(f"{SVG}desc").text


@pytest.mark.parametrize("a_orders,holdout_orders,verdict", [
    (lambda i: i % 2 == 0, lambda i: i % 4 == 0, "better than the holdout"),
    (lambda i: i % 3 == 0, lambda i: i % 3 == 0, "not distinguishable yet"),
    (lambda i: False, lambda i: i % 4 != 3, "worse than the holdout"),
])
def test_an_experiment_shows_each_arm_with_its_interval(make_engine, clock, a_orders, holdout_orders, verdict):
    engine = make_engine(store=":memory:", settings={
        **SETTINGS, "coupon_pools": [{"name": "p", "kind": "generated", "percent": 10}],
        "exit_intent": {"pool": "p", "incentive": {"share": 1.0},
                        "experiments": {"coupon": {"variants": {"A": 1}, "holdout": 1}}}})
    arms = {"A": [0, 0], "holdout": [0, 0]}
    for i in range(40):
        add_cart(engine, f"c{i}", email=f"s{i}@example.com", visitor_id=f"v{i}")
        engine.track("checkout_stage", cart_id=f"c{i}", stage="payment")
        variant = engine.exit_intent(visitor_id=f"v{i}", cart_id=f"c{i}")["variant"]
        arms[variant][0] += 1
        if (a_orders if variant == "A" else holdout_orders)(i):  # known outcomes
            engine.track("order_placed", order_id=f"o{i}", cart_id=f"c{i}", value="1", currency="EUR")
            arms[variant][1] += 1
    html = render_report(engine)
    for variant, (trials, conversions) in arms.items():
        row = re.search(rf'<tr data-variant="{variant}"><th scope="row">.*?</th>'
                        r'<td class="cr-n">(\d+)</td><td class="cr-n">(\d+)</td><td class="cr-n">([\d.]+)%</td>', html)
        assert (int(row.group(1)), int(row.group(2))) == (trials, conversions)
        assert row.group(3) == f"{100 * conversions / trials:.1f}"
    results = {r["variant"]: r for r in engine.experiment_report("coupon")}
    low, high = results["A"]["vs_holdout"]["ci"]
    from_interval = ("better than the holdout" if low > 0 else "worse than the holdout" if high < 0
                     else "not distinguishable yet")
    assert verdict == from_interval  # the outcomes were chosen to give this verdict
    assert re.search(rf'<tr data-variant="A">.*?<td class="cr-\w+">{verdict}</td></tr>', html)
    svg = charts(html)["cr-experiment-0"]
    groups = {g.get("data-variant"): g for g in svg.iter(f"{SVG}g")}
    assert set(groups) == {"A", "holdout"} and "holdout" in groups["holdout"].get("class")
    [line] = [l for l in svg.iter(f"{SVG}line") if l.get("class") == "holdout-rate"]
    assert line.get("x1") == groups["holdout"].find(f"{SVG}circle").get("cx")
    a_point = float(groups["A"].find(f"{SVG}circle").get("cx"))
    holdout_point = float(line.get("x1"))
    assert (a_point > holdout_point) == (results["A"]["rate"] > results["holdout"]["rate"])


def test_an_empty_store_renders_a_nothing_yet_report(make_engine):
    engine = make_engine(store=":memory:")
    html = render_report(engine)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "Nothing yet for this period" in html
    assert "No reminders sent and no orders in this period yet." in html
    assert "No recovered revenue yet." in html and "No experiments are running." in html
    assert tile(html, "sent") == "0" and tile(html, "revenue").startswith("0.00")
    assert charts(html) == {}


def test_the_report_is_self_contained_and_embeddable(make_engine, clock):
    engine = shop(make_engine, clock)
    page, fragment = render_report(engine), render_report(engine, full_page=False)
    for html in (page, fragment):
        lowered = html.lower()
        for needle in ("<script", " src=", "href=", "url(", "@import", "<link", "<iframe"):
            assert needle not in lowered, needle
    assert fragment.startswith('<section class="cr-report"') and fragment.endswith("</section>")
    assert "<html" not in fragment and "<h2 id=\"cr-report-title\">" in fragment
    assert "<h1 id=\"cr-report-title\">" in page
    # Same engine, same clock: the same bytes (nothing random, no dict-order drift).
    assert render_report(engine) == page


def test_mixed_currencies_are_flagged_not_summed_silently(make_engine, clock):
    engine = make_engine(store=":memory:")
    add_cart(engine, "e", email="e@example.com")
    add_cart(engine, "u", email="u@example.com", currency="USD")
    run_at(engine, clock, T0 + HOUR)
    engine.track("order_placed", order_id="oe", cart_id="e", value="10.00", currency="EUR")
    engine.track("order_placed", order_id="ou", cart_id="u", value="10.00", currency="USD")
    html = render_report(engine)
    assert "Orders came in more than one currency" in html
    assert "mixed currencies" in charts(html)["cr-revenue-chart"].find(f"{SVG}text").text


# ---- the charts alone, from rows built by hand ---------------------------------------------------
def test_revenue_chart_adds_up_days_and_shows_the_gaps():
    rows = [{"day": "2026-03-02", "revenue": Decimal("10.50"), "orders": 1, "currency": "EUR"},
            {"day": "2026-03-05", "revenue": "4.25", "orders": 1, "currency": "EUR"},
            {"day": date(2026, 3, 2), "revenue": 2, "orders": 1, "currency": "EUR"}]
    svg = ET.fromstring(revenue_chart(rows))
    bars = {r.get("data-day"): r for r in svg.iter(f"{SVG}rect")}
    assert list(bars) == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    assert bars["2026-03-02"].find(f"{SVG}title").text == "2026-03-02: 12.50 EUR from 2 orders"
    assert bars["2026-03-03"].get("height") == "0" and bars["2026-03-04"].get("height") == "0"
    heights = {d: float(b.get("height")) for d, b in bars.items()}
    assert heights["2026-03-02"] / heights["2026-03-05"] == pytest.approx(12.5 / 4.25, rel=1e-3)
    assert svg.find(f"{SVG}desc").text == (
        "Recovered revenue per day from 2026-03-02 to 2026-03-05 (4 days): 16.75 EUR in total "
        "from 3 orders; the best day was 2026-03-02 with 12.50 EUR.")
    assert revenue_chart(rows) == revenue_chart(list(rows))  # deterministic


def test_the_funnel_axis_counts_whole_carts():
    svg = ET.fromstring(funnel_chart([{"stage": "contact", "carts": 2, "abandoned": 2, "recovered": 1}]))
    axis = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert axis == ["0", "1", "2"]
    widths = {r.get("data-series"): float(r.get("width")) for r in svg.iter(f"{SVG}rect") if r.get("data-series")}
    assert widths["carts"] == widths["abandoned"] == 2 * widths["recovered"] > 0


def test_chart_rows_are_checked_and_the_error_names_the_field():
    with pytest.raises(cr.ValidationError) as e:
        revenue_chart([{"day": "2026-03-02", "revenue": "1"}, {"day": "March", "revenue": "1"}])
    assert e.value.field == "rows[1].day"
    with pytest.raises(cr.ValidationError) as e:
        funnel_chart([{"stage": "cart", "carts": -1}])
    assert e.value.field == "rows[0].carts"
    with pytest.raises(cr.ValidationError) as e:
        variant_chart([{"variant": "A", "trials": 3, "conversions": 1, "rate": 1.5}])
    assert e.value.field == "rows[0].rate"
    with pytest.raises(cr.ValidationError) as e:
        funnel_chart([], chart_id='x" onload="alert(1)')
    assert e.value.field == "chart_id"


def test_empty_rows_give_a_small_chart_that_says_so():
    for chart, text in ((revenue_chart([]), "No recovered revenue yet."),
                        (funnel_chart([{"stage": "cart", "carts": 0, "abandoned": 0, "recovered": 0}]), "No carts yet."),
                        (variant_chart([{"variant": "A", "trials": 0, "conversions": 0, "rate": 0.0}]), "No trials yet.")):
        svg = ET.fromstring(chart)
        assert svg.find(f"{SVG}desc").text == text and not list(svg.iter(f"{SVG}rect"))


# ---- the command line ----------------------------------------------------------------------------
def test_report_html_writes_the_file_and_still_prints_the_table(make_engine, clock, tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    shop(lambda **kw: make_engine(**{**kw, "store": store}), clock).flush()
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    assert main(["report", "--store", store, "--html", str(target)]) == 0
    out, err = capsys.readouterr()
    assert "where carts were left" in out and "33.3%" in out
    assert f"wrote {target}" in err
    html = target.read_text(encoding="utf-8")
    assert tile(html, "sent") == "3" and tile(html, "revenue") == "308.97 <small>EUR</small>"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no leftover temp file
    # --json keeps stdout one JSON document.
    assert main(["report", "--store", store, "--json", "--html", str(target)]) == 0
    assert json.loads(capsys.readouterr().out)["messages"][0]["sent"] == 3


def test_report_html_into_a_missing_directory_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "report.html"
    assert main(["report", "--store", f"sqlite:///{tmp_path / 'r.db'}", "--html", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"--html: the directory {missing.parent} does not exist" in err
    assert not missing.parent.exists() and not (tmp_path / "r.db").exists()  # checked before any work
    assert main(["report", "--store", f"sqlite:///{tmp_path / 'r.db'}", "--html", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err
