"""DataFrames and figures for an analyst in a notebook: the engine's own numbers
(``report``, ``funnel``, ``experiment_report``, ``messages``) shaped for pandas and
matplotlib. Needs the ``notebook`` extra: ``pip install "cartrecovery[notebook]"``.

    from cartrecovery.notebook import report_frame, revenue_frame, plot_revenue
    revenue_frame(engine)["revenue"].sum()
    plot_revenue(engine)                 # a matplotlib Figure

Money. pandas has no exact decimal dtype, so money comes twice: ``revenue`` as float (for
sums, means and plots; floats hold cents exactly up to about 10^13) and ``revenue_exact`` as
Decimal objects, exactly what the engine counted (for anything that is accounting). Rates
(``ctr``, ``conversion``, ``rate``) are floats, as the engine computes them; times are
tz-aware UTC.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot: no global state, no GUI
backend, so they are safe in a worker, a test or a web process; ``fig.savefig(...)`` writes
them. In Jupyter run ``%matplotlib inline`` once and a figure shows when it is a cell's value.
Every ``plot_*`` takes the engine (and builds the frame) or a frame from the matching
``*_frame`` function.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

try:
    import pandas as pd
    from matplotlib.dates import ConciseDateFormatter, DayLocator
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
except ImportError as e:  # the extra is optional: say how to get it, not just what is missing
    raise ImportError(f'cartrecovery.notebook needs pandas and matplotlib ({e.name} is missing): '
                      f'pip install "cartrecovery[notebook]"', name=e.name) from e

from . import _core
from .charts import ABANDONED, CARTS, HOLDOUT, RECOVERED, VARIANT

__all__ = ["report_frame", "revenue_frame", "funnel_frame", "experiment_frame", "messages_frame",
           "plot_revenue", "plot_funnel", "plot_variants"]

COUNTS = ("sent", "delivered", "bounced", "failed", "suppressed", "opened", "clicked",
          "unsubscribed", "orders", "orders_with_coupon")
_TIMES = ("due_at", "sent_at", "opened_at", "clicked_at")
_BODIES = ("text", "html")


# ---- frames --------------------------------------------------------------------------------
def report_frame(engine: Any, since: datetime | None = None, until: datetime | None = None,
                 by: Iterable[str] = ("flow", "step", "channel"), **filters: Any) -> pd.DataFrame:
    """``engine.report(...)`` as a DataFrame, one row per row in the engine's order: the
    ``by`` keys, the counts (int), ``revenue`` (float), ``revenue_exact`` (Decimal),
    ``currency``, ``ctr`` and ``conversion``. ``filters`` are report's keywords (flow, path,
    step, channel, variant)."""
    by = (by,) if isinstance(by, str) else tuple(by)
    rows = engine.report(since, until, by=by, **filters)
    return _report_rows(rows, list(by))


def revenue_frame(engine: Any, since: datetime | None = None, until: datetime | None = None,
                  **filters: Any) -> pd.DataFrame:
    """Per UTC day (a tz-aware DatetimeIndex named "day"): recovered ``orders``,
    ``revenue`` (float), ``revenue_exact`` (Decimal), ``currency`` and the day's message
    counts, from ``engine.report(by=("day",))``. Every day of the range is there, zero when
    nothing happened (the range is since..until when given, else the first to the last day
    with data), so the index is regular for resampling and plots."""
    rows = engine.report(since, until, by=("day",), **filters)
    frame = _report_rows(rows, ["day"])
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("day"), utc=True), name="day")
    first = _day(since) if since is not None else (frame.index.min() if len(frame) else None)
    last = (_day(until - timedelta(microseconds=1)) if until is not None
            else (frame.index.max() if len(frame) else None))
    if first is None or last is None or last < first:
        return frame
    days = pd.date_range(first, last, freq="D", name="day")
    missing = days.difference(frame.index)
    if len(missing):
        zeros = {c: 0 for c in COUNTS}
        zeros.update(revenue=0.0, ctr=0.0, conversion=0.0)
        blank = pd.DataFrame([zeros] * len(missing), index=missing, columns=frame.columns)
        blank["revenue_exact"] = [Decimal(0)] * len(missing)
        blank["currency"] = None
        frame = pd.concat([frame, blank.astype(frame.dtypes.to_dict())]) if len(frame) else blank
        frame = frame.sort_index()
    return frame


def funnel_frame(engine: Any, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """``engine.funnel()`` indexed by checkout ``stage`` in checkout order: ``carts`` (that
    stage was their furthest), ``abandoned``, ``recovered``, and the shares
    ``abandonment_rate`` (abandoned / carts) and ``recovery_rate`` (recovered / abandoned),
    NaN where there is nothing to divide."""
    rows = engine.funnel(since, until)
    frame = pd.DataFrame(rows, columns=["stage", "carts", "abandoned", "recovered"]).set_index("stage")
    frame = frame.astype("int64")
    frame["abandonment_rate"] = frame["abandoned"] / frame["carts"].where(frame["carts"] > 0)
    frame["recovery_rate"] = frame["recovered"] / frame["abandoned"].where(frame["abandoned"] > 0)
    return frame


def experiment_frame(engine: Any, name: str = "coupon", since: datetime | None = None,
                     until: datetime | None = None) -> pd.DataFrame:
    """``engine.experiment_report(name, since, until)`` indexed by ``variant``: ``trials``,
    ``conversions``, ``rate``, its 95 % interval ``ci_low``..``ci_high``, the ``difference``
    from the holdout with ``difference_low``..``difference_high`` (NaN for the holdout), and
    ``holdout`` (bool)."""
    records = []
    for r in engine.experiment_report(name, since=since, until=until):
        vs = r.get("vs_holdout")
        records.append({
            "variant": r["variant"], "trials": r["trials"], "conversions": r["conversions"],
            "rate": r["rate"], "ci_low": r["ci"][0], "ci_high": r["ci"][1],
            "difference": vs["difference"] if vs else float("nan"),
            "difference_low": vs["ci"][0] if vs else float("nan"),
            "difference_high": vs["ci"][1] if vs else float("nan"),
            "holdout": r["variant"] == "holdout",
        })
    columns = ["variant", "trials", "conversions", "rate", "ci_low", "ci_high", "difference",
               "difference_low", "difference_high", "holdout"]
    frame = pd.DataFrame(records, columns=columns).set_index("variant")
    frame.attrs["experiment"] = name
    return frame.astype({"trials": "int64", "conversions": "int64", "holdout": "bool"})


def messages_frame(engine: Any, cart_id: str | None = None, email: str | None = None, *,
                   since: datetime | None = None, until: datetime | None = None,
                   bodies: bool = False) -> pd.DataFrame:
    """``engine.messages(cart_id, email)`` as a DataFrame, oldest first, times as tz-aware
    UTC (NaT when it did not happen). ``since``/``until`` keep messages sent in that range
    (or due in it, for those never sent: the rule the report counts by). The rendered
    ``text`` and ``html`` are left out unless ``bodies=True``: they are large."""
    rows = engine.messages(cart_id=cart_id, email=email, limit=None)
    lo = since.astimezone(timezone.utc) if since is not None else None
    hi = until.astimezone(timezone.utc) if until is not None else None
    kept = []
    for m in rows:
        at = m.get("sent_at") or m.get("due_at")
        if (lo is not None and (at is None or at < lo)) or (hi is not None and (at is None or at >= hi)):
            continue
        kept.append(m if bodies else {k: v for k, v in m.items() if k not in _BODIES})
    columns = list(rows[0]) if rows else [
        "message_id", "cart_id", "journey_id", "flow", "path", "step", "branch", "channel",
        "status", "reason", "variant", *_TIMES, "to", "subject", *_BODIES, "attempts"]
    if not bodies:
        columns = [c for c in columns if c not in _BODIES]
    frame = pd.DataFrame(kept, columns=columns)
    for column in _TIMES:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# ---- figures -------------------------------------------------------------------------------
def plot_revenue(data: Any, since: datetime | None = None, until: datetime | None = None, *,
                 figsize: tuple[float, float] = (8, 3)) -> Figure:
    """Bars of recovered revenue per day (one bar per day of ``revenue_frame``)."""
    frame = data if isinstance(data, pd.DataFrame) else revenue_frame(_engine(data), since, until)
    _needs(frame, ("revenue",), "revenue_frame")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Recovered revenue per day")
    if not len(frame) or not frame["revenue"].any():
        _nothing(ax, "No recovered revenue yet")
        return fig
    days = [d.to_pydatetime() for d in frame.index]
    ax.bar(days, frame["revenue"].to_numpy(), width=0.8, color=RECOVERED, gid="revenue")
    # Whole days only (an automatic locator puts 12:00 ticks between a few days' bars).
    locator = DayLocator(interval=max(1, -(-len(days) // 10)))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    currencies = {c for c in frame.get("currency", pd.Series(dtype=object)).dropna() if c}
    ax.set_ylabel("mixed currencies" if len(currencies) > 1 or "MIXED" in currencies
                  else next(iter(currencies), "revenue"))
    ax.grid(axis="y", color="#e3e6ea")
    ax.set_axisbelow(True)
    return fig


def plot_funnel(data: Any, since: datetime | None = None, until: datetime | None = None, *,
                figsize: tuple[float, float] = (8, 3.5)) -> Figure:
    """Per checkout stage (top to bottom in checkout order) three bars: carts, abandoned,
    recovered."""
    frame = data if isinstance(data, pd.DataFrame) else funnel_frame(_engine(data), since, until)
    _needs(frame, ("carts", "abandoned", "recovered"), "funnel_frame")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Where carts were left")
    if not len(frame) or not frame[["carts", "abandoned", "recovered"]].to_numpy().any():
        _nothing(ax, "No carts yet")
        return fig
    height = 0.26
    positions = list(range(len(frame)))
    for k, (column, colour) in enumerate((("carts", CARTS), ("abandoned", ABANDONED),
                                          ("recovered", RECOVERED))):
        bars = ax.barh([p + (k - 1) * height for p in positions], frame[column].to_numpy(),
                       height=height, color=colour, label=column, gid=column)
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_yticks(positions, [str(s).replace("_", " ") for s in frame.index])
    ax.invert_yaxis()  # checkout order reads top to bottom
    ax.set_xlabel("carts")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no half carts on the axis
    ax.legend(loc="lower right", frameon=False)
    return fig


def plot_variants(data: Any, name: str | None = None, *,
                  figsize: tuple[float, float] = (7, 2.8)) -> Figure:
    """An experiment's conversion rate per variant with its 95 % interval (one error bar per
    variant); the holdout hollow and grey, its rate a dashed line. ``data``: the engine (with
    ``name``, default the only experiment there is) or an ``experiment_frame``."""
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        engine = _engine(data)
        if name is None:
            names = [e["name"] for e in engine.experiments()]
            if len(names) != 1:
                raise _invalid("name", f"which experiment? (the engine has: {', '.join(names) or 'none'})")
            name = names[0]
        frame = experiment_frame(engine, name)
    _needs(frame, ("rate", "ci_low", "ci_high", "trials"), "experiment_frame")
    name = name or frame.attrs.get("experiment")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Conversion per variant" + (f": {name}" if name else ""))
    shown = frame[frame["trials"] > 0]
    if not len(shown):
        _nothing(ax, "No trials yet")
        return fig
    for pos, (variant, r) in enumerate(shown.iterrows()):
        holdout = bool(r.get("holdout", variant == "holdout"))
        colour = HOLDOUT if holdout else VARIANT
        ax.errorbar([r["rate"]], [pos], xerr=[[r["rate"] - r["ci_low"]], [r["ci_high"] - r["rate"]]],
                    fmt="o", color=colour, ecolor=colour, capsize=5, markersize=7,
                    markerfacecolor="white" if holdout else colour, label=str(variant))
        if holdout:
            ax.axvline(r["rate"], color=HOLDOUT, linestyle="--", linewidth=1, gid="holdout-rate")
    ax.set_yticks(range(len(shown)), [str(v) for v in shown.index])
    ax.set_ylim(len(shown) - 0.4, -0.6)  # first variant on top, none on the frame's edge
    ax.set_xlim(0, min(1.0, max(shown["ci_high"].max() * 1.1, 0.05)))
    ax.xaxis.set_major_formatter(lambda x, _: f"{100 * x:.0f}%")
    ax.set_xlabel("conversion rate (95% interval); dashed: the holdout's rate")
    ax.grid(axis="x", color="#e3e6ea")
    ax.set_axisbelow(True)
    return fig


# ---- helpers -------------------------------------------------------------------------------
def _report_rows(rows: list[dict], keys: list[str]) -> pd.DataFrame:
    records = []
    for r in rows:
        record = {k: r.get(k) for k in keys}
        record.update({c: r.get(c, 0) for c in COUNTS})
        exact = r.get("revenue") if r.get("revenue") is not None else Decimal(0)
        record.update(revenue=float(exact), revenue_exact=exact, currency=r.get("currency"),
                      ctr=r.get("ctr", 0.0), conversion=r.get("conversion", 0.0))
        records.append(record)
    columns = keys + list(COUNTS) + ["revenue", "revenue_exact", "currency", "ctr", "conversion"]
    frame = pd.DataFrame(records, columns=columns)
    types = {c: "int64" for c in COUNTS}
    # Exact Decimals stay objects; text columns keep the dtype pandas gives text (str in
    # pandas 3, where a missing currency is NaN rather than None).
    types.update(revenue="float64", ctr="float64", conversion="float64", revenue_exact="object")
    return frame.astype(types)


def _day(moment: datetime) -> pd.Timestamp:
    return pd.Timestamp(moment.astimezone(timezone.utc).date(), tz="UTC")


def _engine(data: Any) -> Any:
    if not hasattr(data, "report") or not hasattr(data, "funnel"):
        raise _invalid("data", f"expected a cartrecovery Engine or a DataFrame, got {type(data).__name__}")
    return data


def _needs(frame: pd.DataFrame, columns: tuple[str, ...], maker: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _invalid("data", f"the DataFrame has no column {', '.join(missing)} (make it with {maker})")


def _nothing(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#5b6472")
    ax.set_xticks([])
    ax.set_yticks([])


def _invalid(field: str, message: str) -> _core.ValidationError:
    err = _core.ValidationError(f"{field}: {message}")
    err.field = field
    return err
