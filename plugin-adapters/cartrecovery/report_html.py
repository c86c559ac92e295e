"""The report as one HTML document you can open, mail or archive: headline numbers, the
reminders by flow/step/channel, where carts were left, lead temperature, experiments with
their intervals, and three charts (revenue per day, the funnel, variants).

    from cartrecovery.report_html import render_report
    Path("report.html").write_text(render_report(engine), encoding="utf-8")

Self-contained on purpose: inline CSS and inline SVG, no script and no external URL, so the
file opens offline years later and shows under a strict Content-Security-Policy (the staff
dashboard embeds the fragment, ``full_page=False``). Every name that comes from the store
(flows, variants, stages) is escaped, and nothing secret is read. The numbers are the
engine's own; this module only lays them out.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from .charts import escape, funnel_chart, money, percent, revenue_chart, variant_chart

__all__ = ["render_report", "REPORT_CSS"]

DEFAULT_TITLE = "Cart recovery report"
_BY = ("flow", "step", "channel")
_COLUMNS = (  # (row key, header, tooltip): the report table, left to right
    ("sent", "sent", "handed to a channel"),
    ("delivered", "delivered", "sent and not bounced"),
    ("failed", "failed", "the channel refused them"),
    ("suppressed", "suppressed", "not sent on purpose: ordered, unsubscribed, caps, quiet hours, holdout"),
    ("opened", "opened", None),
    ("clicked", "clicked", None),
    ("unsubscribed", "unsub&shy;scribed", "unsubscribed after this message"),
    ("ctr", "CTR", "clicked / sent"),
    ("orders", "orders", "orders after this message (last touch, within the attribution window)"),
    ("orders_with_coupon", "with coupon", "orders that used a coupon"),
    ("conversion", "conversion", "orders / sent"),
    ("revenue", "revenue", None),
)
_LEADS = (  # R1.4
    ("hot", "Hot", "put something in a cart"),
    ("warm", "Warm", "browsed products, left before adding anything"),
    ("cold", "Cold", "on the site, no product viewed yet"),
)

# Scoped to .cr-report so the fragment cannot restyle the page it is embedded in.
REPORT_CSS = """
.cr-report{font:15px/1.45 system-ui,sans-serif;color:#1d2430}
.cr-report h2,.cr-report h3,.cr-report h4{line-height:1.25;margin:1.4rem 0 .5rem}
.cr-report .cr-meta{color:#5b6472;margin:.2rem 0 1rem}
.cr-report .cr-muted{color:#5b6472}
.cr-report .cr-notice{background:#eef4ff;border:1px solid #b2ccf5;border-radius:6px;padding:.5rem .75rem}
.cr-report .cr-warning{background:#fff6e5;border:1px solid #f1c27d;border-radius:6px;padding:.5rem .75rem}
.cr-report .cr-tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.6rem;margin:0}
.cr-report .cr-tiles div{border:1px solid #dde1e7;border-radius:8px;padding:.5rem .75rem;background:#fff}
.cr-report .cr-tiles dt{color:#5b6472;font-size:.85rem}
.cr-report .cr-tiles dd{margin:0;font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums}
.cr-report .cr-tiles dd small{font-size:.8rem;font-weight:400;color:#5b6472}
.cr-report .cr-tiles dd.cr-why{font-size:.8rem;font-weight:400;color:#5b6472}
.cr-report .cr-scroll{overflow-x:auto}
.cr-report table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
.cr-report th,.cr-report td{text-align:left;padding:.35rem .45rem;border-top:1px solid #eceef2;vertical-align:top}
.cr-report thead th{border-top:0;color:#5b6472;font-weight:500}
.cr-report tfoot th,.cr-report tfoot td{border-top:2px solid #c8ced8;font-weight:600}
.cr-report td.cr-key{white-space:nowrap}
.cr-report td.cr-n,.cr-report th.cr-n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cr-report .cr-chart{display:block;max-width:100%;height:auto;margin:.5rem 0}
.cr-report .cr-better{color:#18794e}.cr-report .cr-worse{color:#b42318}
"""
_PAGE_CSS = """
body{margin:0;background:#f6f7f9}
main{max-width:68rem;margin:0 auto;padding:1rem 1.25rem 3rem}
.cr-report>section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:.25rem 1rem 1rem;margin:1rem 0}
@media print{body{background:#fff}.cr-report>section{break-inside:avoid;border:0}}
"""


def render_report(engine: Any, since: datetime | None = None, until: datetime | None = None, *,
                  title: str | None = None, full_page: bool = True) -> str:
    """The report for [since, until) (aware datetimes; None: open-ended) as a complete HTML
    document, or with ``full_page=False`` only its ``<section class="cr-report">`` (with
    its own scoped <style>) to embed in a page. An empty store gives a "nothing yet"
    report, not an error."""
    title = title or DEFAULT_TITLE
    total = (engine.report(since, until, by=()) or [{}])[0]
    rows = engine.report(since, until, by=_BY)
    days = engine.report(since, until, by=("day",))
    funnel = engine.funnel(since, until)
    leads = engine.leads(since, until)
    experiments = engine.experiments(since, until)
    shop = (getattr(engine, "settings", None) or {}).get("shop_name")
    currency = total.get("currency") or (getattr(engine, "settings", None) or {}).get("currency")
    # Heading levels follow the host: a page's <h1>, or the <h2> of an embedded section.
    h = 1 if full_page else 2

    meta = [escape(shop)] if shop else []
    meta += [escape(_period(since, until)), f"as of {escape(_when(engine.now()))}"]
    parts = [f'<header><h{h} id="cr-report-title">{escape(title)}</h{h}>'
             f'<p class="cr-meta">{" · ".join(meta)}</p></header>']
    if _nothing_yet(total, funnel, leads, experiments):
        parts.append('<p class="cr-notice">Nothing yet for this period: no carts, reminders or '
                     'orders. The report fills in as shoppers arrive and reminders go out.</p>')
    parts.append(_section("cr-headline", "Headline numbers", h + 1, _headline(total, currency)))
    parts.append(_section("cr-revenue", "Recovered revenue per day", h + 1,
                          revenue_chart(days, currency=currency, chart_id="cr-revenue-chart")
                          if days else '<p class="cr-muted">No recovered revenue yet.</p>'))
    parts.append(_section("cr-messages", "Reminders by flow, step and channel", h + 1,
                          _message_table(rows, total)))
    parts.append(_section("cr-funnel", "Where carts were left", h + 1, _funnel(funnel)))
    parts.append(_section("cr-leads", "Lead temperature", h + 1, _leads(leads)))
    parts.append(_section("cr-experiments", "Experiments", h + 1, _experiments(experiments, h + 2)))
    body = "".join(parts)
    if not full_page:
        return (f'<section class="cr-report" aria-labelledby="cr-report-title">'
                f'<style>{REPORT_CSS}</style>{body}</section>')
    page_title = f"{title} · {shop}" if shop else title
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex">'
            f'<title>{escape(page_title)}</title><style>{REPORT_CSS}{_PAGE_CSS}</style></head>'
            f'<body><main><article class="cr-report" aria-labelledby="cr-report-title">{body}'
            '</article></main></body></html>\n')


# ---- sections ------------------------------------------------------------------------------
def _section(section_id: str, heading: str, level: int, content: str) -> str:
    return (f'<section id="{section_id}" aria-labelledby="{section_id}-h">'
            f'<h{level} id="{section_id}-h">{escape(heading)}</h{level}>{content}</section>')


def _headline(total: dict, currency: str | None) -> str:
    revenue = total.get("revenue", Decimal(0))
    mixed = currency == "MIXED"
    unit = "" if mixed or not currency else f" <small>{escape(currency)}</small>"
    tiles = [
        ("sent", "Sent", str(total.get("sent", 0))),
        ("opened", "Opened", str(total.get("opened", 0))),
        ("clicked", "Clicked", str(total.get("clicked", 0))),
        ("orders", "Orders", str(total.get("orders", 0))),
        ("revenue", "Recovered revenue", escape(money(revenue)) + unit),
        ("ctr", "CTR", percent(total.get("ctr", 0.0))),
        ("conversion", "Conversion", percent(total.get("conversion", 0.0))),
    ]
    html = "".join(f'<div data-key="{key}"><dt>{label}</dt><dd>{value}</dd></div>' for key, label, value in tiles)
    note = ('<p class="cr-muted">CTR is clicked / sent; conversion is orders / sent. An order counts '
            'for the last reminder or popup before it, within the attribution window.</p>')
    if mixed:
        note += ('<p class="cr-warning">Orders came in more than one currency: the revenue sums add '
                 'amounts of different currencies and are not one amount of money.</p>')
    return f'<dl class="cr-tiles">{html}</dl>{note}'


def _message_table(rows: list[dict], total: dict) -> str:
    if not rows:
        return '<p class="cr-muted">No reminders sent and no orders in this period yet.</p>'
    head = "".join(f'<th scope="col">{k}</th>' for k in ("Flow", "Step", "Channel"))
    head += "".join(f'<th scope="col" class="cr-n"{_tip(tip)}>{label}</th>' for _, label, tip in _COLUMNS)
    body = []
    for r in rows:
        keys = "".join(f'<td class="cr-key">{escape(r.get(k))}</td>' for k in _BY)
        body.append(f"<tr>{keys}{_number_cells(r)}</tr>")
    foot = f'<tr><th scope="row" colspan="3">Total</th>{_number_cells(total)}</tr>'
    return (f'<div class="cr-scroll"><table class="cr-messages"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody><tfoot>{foot}</tfoot></table></div>')


def _number_cells(r: dict) -> str:
    cells = []
    for key, _, _ in _COLUMNS:
        value = r.get(key)
        if key in ("ctr", "conversion"):
            text = percent(value or 0.0)
        elif key == "revenue":
            text = money(value if value is not None else Decimal(0))
            if r.get("currency"):
                text += f" {r['currency']}"
        else:
            text = str(value or 0)
        cells.append(f'<td class="cr-n" data-key="{key}">{escape(text)}</td>')
    return "".join(cells)


def _funnel(rows: list[dict]) -> str:
    if not any(r.get("carts") or r.get("abandoned") or r.get("recovered") for r in rows):
        return '<p class="cr-muted">No carts in this period yet.</p>'
    body = []
    for r in rows:
        carts, abandoned, recovered = r["carts"], r["abandoned"], r["recovered"]
        body.append(f'<tr data-stage="{escape(r["stage"])}"><th scope="row">{escape(str(r["stage"]).replace("_", " "))}</th>'
                    f'<td class="cr-n">{carts}</td><td class="cr-n">{abandoned}</td>'
                    f'<td class="cr-n">{_share(abandoned, carts)}</td><td class="cr-n">{recovered}</td>'
                    f'<td class="cr-n">{_share(recovered, abandoned)}</td></tr>')
    return (funnel_chart(rows, chart_id="cr-funnel-chart")
            + '<p class="cr-muted">Each cart counts once, at the furthest checkout stage it reached.</p>'
            '<div class="cr-scroll"><table class="cr-funnel"><thead><tr><th scope="col">Stage</th>'
            '<th scope="col" class="cr-n">carts</th><th scope="col" class="cr-n">abandoned</th>'
            '<th scope="col" class="cr-n">of carts</th><th scope="col" class="cr-n">recovered</th>'
            f'<th scope="col" class="cr-n">of abandoned</th></tr></thead><tbody>{"".join(body)}</tbody>'
            '</table></div>')


def _leads(leads: dict) -> str:
    if not any(leads.get(k) for k, _, _ in _LEADS):
        return '<p class="cr-muted">No visitors in this period yet.</p>'
    tiles = "".join(f'<div data-key="{k}"><dt>{label}</dt><dd>{int(leads.get(k, 0))}</dd>'
                    f'<dd class="cr-why">{escape(why)}</dd></div>' for k, label, why in _LEADS)
    return f'<dl class="cr-tiles">{tiles}</dl>'


def _experiments(experiments: list[dict], level: int) -> str:
    if not experiments:
        return '<p class="cr-muted">No experiments are running.</p>'
    out = ['<p class="cr-muted">Experiments count the trials that started in this period (their '
           'orders may follow up to the attribution window later). '
           'A difference whose 95% interval excludes 0 is unlikely to be chance.</p>']
    for n, e in enumerate(experiments):
        where = ("exit-intent popup" if e.get("kind") == "popup"
                 else f"flow {e.get('flow')}, path {e.get('path')}, step {e.get('step')}")
        out.append(f'<section class="cr-experiment" data-experiment="{escape(e["name"])}">'
                   f'<h{level}>{escape(e["name"])}</h{level}><p class="cr-meta">{escape(where)}</p>')
        results = e.get("results") or []
        if not any(r.get("trials") for r in results):
            out.append('<p class="cr-muted">No trials yet.</p></section>')
            continue
        out.append(variant_chart(results, experiment=e["name"], chart_id=f"cr-experiment-{n}"))
        body = []
        for r in results:
            holdout = r["variant"] == "holdout"
            low, high = r["ci"]
            label = escape(r["variant"]) + (' <small class="cr-muted">(gets nothing)</small>' if holdout else "")
            body.append(f'<tr data-variant="{escape(r["variant"])}"><th scope="row">{label}</th>'
                        f'<td class="cr-n">{r["trials"]}</td><td class="cr-n">{r["conversions"]}</td>'
                        f'<td class="cr-n">{percent(r["rate"])}</td>'
                        f'<td class="cr-n">{percent(low)} – {percent(high)}</td>{_versus(r.get("vs_holdout"))}</tr>')
        out.append('<div class="cr-scroll"><table class="cr-variants"><thead><tr><th scope="col">Variant</th>'
                   '<th scope="col" class="cr-n">trials</th><th scope="col" class="cr-n">conversions</th>'
                   '<th scope="col" class="cr-n">rate</th><th scope="col" class="cr-n">95% interval</th>'
                   '<th scope="col" class="cr-n">vs holdout</th><th scope="col">verdict</th></tr></thead>'
                   f'<tbody>{"".join(body)}</tbody></table></div></section>')
    return "".join(out)


def _versus(vs: dict | None) -> str:
    if not vs:
        return '<td class="cr-n">–</td><td></td>'
    low, high = vs["ci"]
    diff = f"{_points(vs['difference'])} ({_points(low)} to {_points(high)})"
    if low > 0:
        verdict = '<td class="cr-better">better than the holdout</td>'
    elif high < 0:
        verdict = '<td class="cr-worse">worse than the holdout</td>'
    else:
        verdict = '<td class="cr-muted">not distinguishable yet</td>'
    return f'<td class="cr-n">{diff}</td>{verdict}'


# ---- formatting ----------------------------------------------------------------------------
def _points(difference: float) -> str:
    """A difference of rates in percentage points, signed: "+6.7 pts"."""
    value = 100 * difference
    return f"{'+' if value > 0 else '−' if value < 0 else '±'}{abs(value):.1f} pts"


def _share(part: int, whole: int) -> str:
    return percent(part / whole) if whole else "–"


def _tip(text: str | None) -> str:
    return f' title="{escape(text)}"' if text else ""


def _nothing_yet(total: dict, funnel: list[dict], leads: dict, experiments: list[dict]) -> bool:
    return (not total.get("sent") and not total.get("orders") and not total.get("suppressed")
            and not any(r.get("carts") for r in funnel) and not any(leads.values())
            and not any(r.get("trials") for e in experiments for r in e.get("results") or []))


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _period(since: datetime | None, until: datetime | None) -> str:
    """Words for [since, until): whole UTC days read as days, the last one inclusive."""
    def day_or_time(moment: datetime, last: bool = False) -> str:
        moment = moment.astimezone(timezone.utc)
        if moment.time() == time(0):
            return (moment - timedelta(days=1) if last else moment).date().isoformat()
        return ("before " if last else "") + moment.strftime("%Y-%m-%d %H:%M")

    if since is None and until is None:
        return "all time"
    if until is None:
        return f"from {day_or_time(since)} (UTC)"
    if since is None:
        return f"up to {day_or_time(until, last=True)} (UTC)"
    return f"{day_or_time(since)} to {day_or_time(until, last=True)} (UTC)"
