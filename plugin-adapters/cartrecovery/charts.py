"""Small SVG charts for the report: recovered revenue per day, where carts were left in the
checkout (the funnel), and an experiment's variants with their 95 % intervals.

Standard library only, so the HTML report needs no extra install and still renders under a
strict Content-Security-Policy (no script, nothing fetched). Each function takes the plain
rows the engine returns, not the engine, so a chart can be built and tested from rows made by
hand:

    revenue_chart(engine.report(by=("day",)))
    funnel_chart(engine.funnel())
    variant_chart(engine.experiment_report("coupon"), experiment="coupon")

Output is deterministic (the same rows give the same text: ids come from ``chart_id``,
numbers are formatted, never printed raw), every text is escaped for XML and HTML alike, and
each chart has a <title> and a <desc> that say in words what the bars show, for screen
readers. Each chart is a standalone SVG document and can be inlined in HTML as it is.
"""
from __future__ import annotations

import html
import math
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from . import _core

__all__ = ["revenue_chart", "funnel_chart", "variant_chart", "escape", "money", "percent"]

# Colours with enough contrast on white to tell apart in the legend, also in greyscale print.
CARTS, ABANDONED, RECOVERED = "#4e79a7", "#e07b39", "#3f8f5b"
VARIANT, HOLDOUT = "#4e79a7", "#6b7280"
INK, MUTED, GRID = "#1d2430", "#5b6472", "#e3e6ea"

FONT_PX = 12
CHAR_PX = 7.0   # a generous average glyph width at 12 px, to size label columns without a font
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Characters XML 1.0 forbids even as references: a flow named with one would make the whole
# SVG unparseable, so they become U+FFFD instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def escape(value: Any) -> str:
    """Text for HTML or XML content and quoted attributes (None is empty)."""
    return html.escape(_NOT_XML.sub("\ufffd", "" if value is None else str(value)), quote=True)


def money(amount: Decimal) -> str:
    """1234.5 -> "1,234.5": thousands grouped, the amount's own decimals kept (JPY has none,
    KWD three), so what the report shows is exactly what the engine counted."""
    return f"{amount:,f}"


def percent(rate: float, digits: int = 1) -> str:
    return f"{100 * rate:.{digits}f}%"


def revenue_chart(rows: Iterable[Mapping[str, Any]], *, currency: str | None = None,
                  chart_id: str = "cr-revenue", title: str = "Recovered revenue per day",
                  width: int = 640, height: int = 240) -> str:
    """Bars of recovered revenue per UTC day, from rows with "day" (YYYY-MM-DD or a date),
    "revenue" (Decimal, str or int) and optionally "orders" and "currency", as
    ``engine.report(by=("day",))`` gives them. Rows of the same day are added up; days
    without a row between the first and the last show as zero, so gaps are visible.
    ``currency`` labels the axis when the rows carry none."""
    _check_id(chart_id)
    by_day: dict[date, list] = {}
    currencies: set[str] = set()
    for i, row in enumerate(_rows(rows)):
        day = _day(row, i)
        revenue = _decimal(row.get("revenue", 0), f"rows[{i}].revenue")
        orders = _count(row.get("orders", 0), f"rows[{i}].orders")
        if row.get("currency") and (revenue or orders):
            currencies.add(str(row["currency"]))
        total = by_day.setdefault(day, [Decimal(0), 0])
        total[0] += revenue
        total[1] += orders
    mixed = len(currencies) > 1 or "MIXED" in currencies
    unit = "mixed currencies" if mixed else (next(iter(currencies)) if currencies else (currency or ""))
    if not by_day or not any(v[0] or v[1] for v in by_day.values()):
        return _svg(chart_id, width, 64, title, "No recovered revenue yet.",
                    _note(width / 2, 36, "No recovered revenue yet"))

    first, last = min(by_day), max(by_day)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    exponent = min(v[0].as_tuple().exponent for v in by_day.values())
    zero = Decimal(0).scaleb(exponent) if exponent < 0 else Decimal(0)
    values = [by_day.get(d, [zero, 0]) for d in days]
    total_revenue = sum((v[0] for v in values), zero)
    total_orders = sum(v[1] for v in values)
    ticks = _ticks(max(v[0] for v in values))
    tick_labels = [money(t) for t in ticks]

    left = 14 + CHAR_PX * max(len(t) for t in tick_labels)
    top, right, bottom = 24, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    band = plot_w / len(days)
    body = []
    if unit:
        body.append(_text(left, 14, unit, fill=MUTED))
    for t, label in zip(ticks, tick_labels):
        y = top + plot_h - plot_h * float(t / ticks[-1])
        body.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(width - right)}" y2="{_n(y)}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, label, anchor="end", fill=MUTED))
    every = max(1, math.ceil(len(days) / max(1, int(plot_w // 52))))
    for n, (day, (revenue, orders)) in enumerate(zip(days, values)):
        x = left + n * band
        h = plot_h * float(revenue / ticks[-1])
        tip = f"{day.isoformat()}: {money(revenue)}{' ' + unit if unit else ''} from {orders} order{'s' * (orders != 1)}"
        bar_w = min(48.0, max(1.0, band * 0.72))  # one day alone is a bar, not a wall
        body.append(f'<rect class="bar" x="{_n(x + (band - bar_w) / 2)}" y="{_n(top + plot_h - h)}" '
                    f'width="{_n(bar_w)}" height="{_n(h)}" fill="{RECOVERED}" data-day="{day.isoformat()}">'
                    f'<title>{escape(tip)}</title></rect>')
        if n % every == 0:
            body.append(_text(x + band / 2, height - bottom + 16, f"{day.day} {MONTHS[day.month - 1]}",
                              anchor="middle", fill=MUTED))
    body.append(f'<line x1="{_n(left)}" y1="{_n(top + plot_h)}" x2="{_n(width - right)}" '
                f'y2="{_n(top + plot_h)}" stroke="{MUTED}"/>')

    best_day, best = max(zip(days, values), key=lambda dv: (dv[1][0], -dv[0].toordinal()))
    amount = lambda a: money(a) + (f" {unit}" if unit and not mixed else "")  # noqa: E731
    desc = (f"Recovered revenue per day from {first.isoformat()} to {last.isoformat()} "
            f"({len(days)} day{'s' * (len(days) != 1)}): {amount(total_revenue)} in total from "
            f"{total_orders} order{'s' * (total_orders != 1)}; the best day was "
            f"{best_day.isoformat()} with {amount(best[0])}.")
    if mixed:
        desc += " Orders came in more than one currency, so the sums add different currencies."
    return _svg(chart_id, width, height, title, desc, "".join(body))


def funnel_chart(rows: Iterable[Mapping[str, Any]], *, chart_id: str = "cr-funnel",
                 title: str = "Where carts were left", width: int = 640) -> str:
    """Per checkout stage (in the rows' order, as ``engine.funnel()`` gives them), three
    bars: carts whose furthest stage it was, how many were abandoned there, and how many
    of those came back as orders."""
    _check_id(chart_id)
    stages = []
    for i, row in enumerate(_rows(rows)):
        if "stage" not in row:
            raise _invalid(f"rows[{i}].stage", "is required")
        stages.append((str(row["stage"]), *(_count(row.get(k, 0), f"rows[{i}].{k}")
                                           for k in ("carts", "abandoned", "recovered"))))
    if not any(any(s[1:]) for s in stages):
        return _svg(chart_id, width, 64, title, "No carts yet.", _note(width / 2, 36, "No carts yet"))

    series = (("carts", CARTS), ("abandoned", ABANDONED), ("recovered", RECOVERED))
    ticks = _ticks(Decimal(max(max(s[1:]) for s in stages)), whole=True)
    names = [s[0].replace("_", " ") for s in stages]
    left = min(width * 0.3, 14 + CHAR_PX * max(len(n) for n in names))
    right = 14 + CHAR_PX * len(f"{ticks[-1]:f}")
    top, bar, gap = 34, 11, 12
    group = 3 * bar + gap
    plot_w = width - left - right
    height = int(top + group * len(stages) + 22)
    body = []
    x = left
    for name, colour in series:  # the legend, in the order of the bars
        body.append(f'<rect x="{_n(x)}" y="8" width="10" height="10" fill="{colour}"/>')
        body.append(_text(x + 14, 17, name))
        x += 14 + CHAR_PX * len(name) + 18
    bottom_y = top + group * len(stages) - gap / 2
    for t in ticks:
        gx = left + plot_w * float(t / ticks[-1])
        body.append(f'<line x1="{_n(gx)}" y1="{_n(top - 4)}" x2="{_n(gx)}" y2="{_n(bottom_y)}" stroke="{GRID}"/>')
        body.append(_text(gx, bottom_y + 14, f"{t:f}", anchor="middle", fill=MUTED))
    for n, ((stage, *counts), name) in enumerate(zip(stages, names)):
        y0 = top + n * group
        body.append(_text(left - 8, y0 + 1.5 * bar + 4, _fit(name, left - 12), anchor="end", full=name))
        for k, ((label, colour), value) in enumerate(zip(series, counts)):
            w = plot_w * value / float(ticks[-1])
            y = y0 + k * bar
            body.append(f'<rect class="bar" x="{_n(left)}" y="{_n(y)}" width="{_n(w)}" height="{bar - 1}" '
                        f'fill="{colour}" data-stage="{escape(stage)}" data-series="{label}">'
                        f'<title>{escape(f"{name}: {value} {label}")}</title></rect>')
            body.append(_text(left + w + 4, y + bar - 2, str(value), size=10, fill=MUTED))
    parts = [f"{name}: {c} carts, {a} abandoned, {r} recovered" for name, (_, c, a, r) in zip(names, stages)]
    desc = "Carts by the furthest checkout stage they reached. " + "; ".join(parts) + "."
    return _svg(chart_id, width, height, title, desc, "".join(body))


def variant_chart(results: Iterable[Mapping[str, Any]], *, experiment: str | None = None,
                  chart_id: str = "cr-variants", title: str | None = None, width: int = 640,
                  holdout: str = "holdout") -> str:
    """An experiment's conversion rate per variant as a dot with its 95 % interval as an
    error bar, from ``engine.experiment_report(name)`` rows ("variant", "trials",
    "conversions", "rate", "ci"). The holdout (the variant named ``holdout``, who got
    nothing) is drawn grey and hollow, and its rate as a dashed line to compare against."""
    _check_id(chart_id)
    title = title or ("Conversion per variant" + (f": {experiment}" if experiment else ""))
    rows = []
    for i, r in enumerate(_rows(results)):
        if "variant" not in r:
            raise _invalid(f"rows[{i}].variant", "is required")
        trials = _count(r.get("trials", 0), f"rows[{i}].trials")
        conversions = _count(r.get("conversions", 0), f"rows[{i}].conversions")
        rate = _rate(r.get("rate", 0.0), f"rows[{i}].rate")
        ci = r.get("ci") or (rate, rate)
        if len(ci) != 2:
            raise _invalid(f"rows[{i}].ci", "expected (low, high)")
        low, high = (_rate(v, f"rows[{i}].ci") for v in ci)
        rows.append((str(r["variant"]), trials, conversions, rate, low, high))
    if not rows or not any(r[1] for r in rows):
        return _svg(chart_id, width, 64, title, "No trials yet.", _note(width / 2, 36, "No trials yet"))

    top_rate = max(r[5] for r in rows if r[1])
    ticks = [t for t in _ticks(Decimal(str(round(100 * top_rate, 6)))) if t <= 100] or [Decimal(0), Decimal(100)]
    if ticks[-1] < Decimal(str(round(100 * top_rate, 6))):
        ticks.append(Decimal(100))
    span = float(ticks[-1]) / 100 or 1.0
    labels = [name for name, *_ in rows]
    values = [f"{percent(rate)} ({conv}/{trials})" if trials else "no trials yet"
              for _, trials, conv, rate, _, _ in rows]
    left = min(width * 0.3, 14 + CHAR_PX * max(len(n) for n in labels))
    right = 12 + CHAR_PX * max(len(v) for v in values)
    top, row_h = 12, 30
    plot_w = width - left - right
    height = int(top + row_h * len(rows) + 40)
    bottom_y = top + row_h * len(rows)
    x_of = lambda rate: left + plot_w * min(rate, span) / span  # noqa: E731
    body = []
    for t in ticks:
        gx = left + plot_w * float(t) / float(ticks[-1])
        body.append(f'<line x1="{_n(gx)}" y1="{top}" x2="{_n(gx)}" y2="{_n(bottom_y)}" stroke="{GRID}"/>')
        body.append(_text(gx, bottom_y + 14, f"{t:f}%", anchor="middle", fill=MUTED))
    base = next((r for r in rows if r[0] == holdout and r[1]), None)
    if base is not None:
        hx = x_of(base[3])
        body.append(f'<line class="holdout-rate" x1="{_n(hx)}" y1="{top}" x2="{_n(hx)}" y2="{_n(bottom_y)}" '
                    f'stroke="{HOLDOUT}" stroke-dasharray="4 3"/>')
        body.append(_text(left, bottom_y + 30, "dashed line: the holdout's rate (no message, no offer)",
                          size=10, fill=MUTED))
    for n, ((name, trials, conv, rate, low, high), label, value) in enumerate(zip(rows, labels, values)):
        cy = top + n * row_h + row_h / 2
        is_holdout = name == holdout
        colour = HOLDOUT if is_holdout else VARIANT
        body.append(_text(left - 8, cy + 4, _fit(label, left - 12), anchor="end", full=label))
        body.append(_text(width - right + 8, cy + 4, value, fill=MUTED))
        if not trials:
            continue
        x1, x2, cx = x_of(low), x_of(high), x_of(rate)
        tip = f"{label}: {percent(rate)} ({conv} of {trials}), 95% interval {percent(low)} to {percent(high)}"
        body.append(f'<g class="variant{" holdout" * is_holdout}" data-variant="{escape(name)}">'
                    f'<title>{escape(tip)}</title>'
                    f'<line x1="{_n(x1)}" y1="{_n(cy)}" x2="{_n(x2)}" y2="{_n(cy)}" stroke="{colour}" stroke-width="2"/>'
                    f'<line x1="{_n(x1)}" y1="{_n(cy - 6)}" x2="{_n(x1)}" y2="{_n(cy + 6)}" stroke="{colour}" stroke-width="2"/>'
                    f'<line x1="{_n(x2)}" y1="{_n(cy - 6)}" x2="{_n(x2)}" y2="{_n(cy + 6)}" stroke="{colour}" stroke-width="2"/>'
                    f'<circle class="point" cx="{_n(cx)}" cy="{_n(cy)}" r="5" stroke="{colour}" stroke-width="2" '
                    f'fill="{"#ffffff" if is_holdout else colour}"/></g>')
    parts = []
    for (name, trials, conv, rate, low, high), label in zip(rows, labels):
        label = f"{label} (the holdout, who got nothing)" if name == holdout else label
        parts.append(f"{label}: {percent(rate)} ({conv} of {trials}), 95% interval {percent(low)} to {percent(high)}"
                     if trials else f"{label}: no trials yet")
    desc = "Conversion rate per variant with its 95% interval. " + "; ".join(parts) + "."
    return _svg(chart_id, width, height, title, desc, "".join(body))


# ---- helpers --------------------------------------------------------------------------------
def _svg(chart_id: str, width: float, height: float, title: str, desc: str, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="cr-chart" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="system-ui, sans-serif" '
            f'font-size="{FONT_PX}" fill="{INK}">'
            f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
            f'{body}</svg>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str | None = None,
          size: int | None = None, full: str | None = None) -> str:
    attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
    attrs += f' fill="{fill}"' if fill else ""
    attrs += f' font-size="{size}"' if size else ""
    tip = f"<title>{escape(full)}</title>" if full is not None and full != text else ""
    return f'<text x="{_n(x)}" y="{_n(y)}"{attrs}>{tip}{escape(text)}</text>'


def _note(x: float, y: float, text: str) -> str:
    return _text(x, y, text, anchor="middle", fill=MUTED)


def _fit(text: str, px: float) -> str:
    """Shortens a label to its column, with an ellipsis (the full text stays in a <title>)."""
    room = max(1, int(px // CHAR_PX))
    return text if len(text) <= room else text[:max(1, room - 1)] + "\u2026"


def _n(x: float) -> str:
    """Coordinates with at most two decimals and no "-0", so output is stable and short."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _ticks(top: Decimal, count: int = 4, whole: bool = False) -> list[Decimal]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to the first at or above
    ``top``. Decimal arithmetic, so labels are exact ("0.3", never "0.30000000000000004").
    ``whole``: steps of at least 1 and never 2.5 (an axis of carts has no half carts)."""
    if top <= 0:
        return [Decimal(0), Decimal(1)]
    raw = top / count
    base = Decimal(1).scaleb(raw.adjusted())
    steps = (1, 2, 5, 10) if whole else (1, 2, Decimal("2.5"), 5, 10)
    step = next(base * m for m in steps if base * m >= raw)
    if whole:
        step = max(step, Decimal(1))
    steps = int((top / step).to_integral_value(rounding="ROUND_CEILING"))
    return [(step * k).normalize() + 0 for k in range(steps + 1)]


def _rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out = list(rows)
    for i, row in enumerate(out):
        if not isinstance(row, Mapping):
            raise _invalid(f"rows[{i}]", f"expected a dict, got {type(row).__name__}")
    return out


def _day(row: Mapping[str, Any], i: int) -> date:
    value = row.get("day")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(f"rows[{i}].day", f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips, not the binary expansion
    try:
        d = Decimal(value if value is not None else 0)
    except (InvalidOperation, TypeError, ValueError):
        raise _invalid(field, f"expected an amount, got {value!r}") from None
    if not d.is_finite():
        raise _invalid(field, f"expected an amount, got {value!r}")
    return d


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(field, f"expected a whole number of at least 0, got {value!r}")
    return value


def _rate(value: Any, field: str) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise _invalid(field, f"expected a rate between 0 and 1, got {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise _invalid(field, f"expected a rate between 0 and 1, got {value!r}")
    return rate


def _check_id(chart_id: str) -> None:
    # The id names the chart's <title>/<desc> for aria-labelledby; several charts share a page.
    if not isinstance(chart_id, str) or not _CHART_ID.match(chart_id):
        raise _invalid("chart_id", f"expected a letter then letters, digits, '-' or '_', got {chart_id!r}")


def _invalid(field: str, message: str) -> _core.ValidationError:
    err = _core.ValidationError(f"{field}: {message}")
    err.field = field
    return err
