"""The staff dashboard: every flow and why it waits, the worker's health, pause and resume
buttons, and the report with its charts. Framework-neutral, like ``web``: the Django view
and the Flask route decide who may see it and check the CSRF token, then hand over to

- ``page_answer(engine, action_url, csrf_field, query)`` for a GET, and
- ``apply_form(engine, form, action_url)`` for a POSTed pause/resume form.

Both return a ``web.Answer``. Everything that comes from the engine or the request is
HTML-escaped; nothing secret (the link secret, channel passwords) is read, so none can leak
onto the page. The page needs no script: its buttons are plain forms.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from html import escape
from typing import Any, Mapping
from urllib.parse import urlencode

from . import _core
from .report_html import render_report
from .web.request import Answer

PURPOSE = "dashboard"     # what the Flask form token is for (web.sign_form)
ACTIONS = ("pause", "resume")
MAX_REASON = 200
DEFAULT_REASON = "paused by staff"

# A page with buttons must not be framed (clickjacking), cached or leak its URL; it runs no
# script at all, and inline SVG charts and <style> are all it needs.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def hidden_field(name: str, value: str) -> str:
    """A hidden <input>, escaped: how an adapter hands its CSRF token to ``render_page``."""
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'


def _invalid(field: str, message: str) -> _core.ValidationError:
    err = _core.ValidationError(f"{field}: {message}")
    err.field = field
    return err


# ---------------------------------------------------------------------------------------
# Pause / resume
# ---------------------------------------------------------------------------------------
@dataclass
class FlowAction:
    action: str   # "pause" | "resume"
    flow: str
    reason: str   # for pause


def parse_form(engine: Any, form: Mapping[str, str], who: str | None = None) -> FlowAction:
    """The pause/resume form, checked against the engine's flows. Raises ValidationError
    whose ``field`` names the culprit: ``action``, ``flow`` or ``reason``."""
    action = (form.get("action") or "").strip()
    if action not in ACTIONS:
        raise _invalid("action", f"expected one of {', '.join(ACTIONS)}, got {action[:40]!r}")
    flow = (form.get("flow") or "").strip()
    # The engine's flows, and any the store still holds a pause for (so it can be resumed).
    names = [f["name"] for f in engine.flows()]
    if flow not in names:
        raise _invalid("flow", f"no flow named {flow[:100]!r} (flows: {', '.join(names) or 'none'})")
    reason = " ".join((form.get("reason") or "").split())  # one line in the store and on the page
    if len(reason) > MAX_REASON:
        raise _invalid("reason", f"at most {MAX_REASON} characters")
    # Who paused it is worth keeping: "why is nothing going out?" is asked days later.
    if not reason:
        reason = f"paused by {who}" if who else DEFAULT_REASON
    elif who:
        reason = f"{reason} ({who})"
    return FlowAction(action, flow, reason)


def apply_form(engine: Any, form: Mapping[str, str], action_url: str, who: str | None = None) -> Answer:
    """Applies a POSTed form and answers 303 back to the dashboard (so a reload never
    posts twice), or 400 naming the bad field; nothing changes on a 400."""
    try:
        act = parse_form(engine, form, who)
        if act.action == "pause":
            engine.pause_flow(act.flow, act.reason)
        else:
            engine.resume_flow(act.flow)
    except (_core.ValidationError, _core.ConfigError) as e:
        return error_answer(400, str(e), action_url)
    query = urlencode({"done": act.action, "flow": act.flow})
    return Answer(303, b"", "text/plain", {"Location": f"{action_url}?{query}", **HEADERS})


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------
def page_answer(engine: Any, action_url: str, csrf_field: str, query: Mapping[str, str] | None = None,
                shop_name: str | None = None) -> Answer:
    """GET: the page, with the report limited to ``?since=YYYY-MM-DD&until=YYYY-MM-DD``
    (whole UTC days, both included) and a notice after a pause or resume."""
    query = query or {}
    try:
        since = _day(query, "since")
        until = _day(query, "until")
    except _core.ValidationError as e:
        return error_answer(400, str(e), action_url)
    if since and until and until < since:
        return error_answer(400, "until: before since", action_url)
    notice = None
    done, flow = query.get("done"), query.get("flow")
    if done in ACTIONS and flow in [f["name"] for f in engine.flows()]:
        notice = f"{'Paused' if done == 'pause' else 'Resumed'} {flow}."
    html = render_page(engine, action_url, csrf_field, shop_name=shop_name, notice=notice,
                       since=since, until=None if until is None else until + timedelta(days=1))
    return Answer(200, html.encode(), "text/html; charset=utf-8", dict(HEADERS))


def _day(query: Mapping[str, str], field: str) -> datetime | None:
    text = (query.get(field) or "").strip()
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(0), timezone.utc)
    except ValueError:
        raise _invalid(field, f"expected a date as YYYY-MM-DD, got {text[:40]!r}") from None


def error_answer(status: int, message: str, back_url: str | None = None) -> Answer:
    """A small HTML page saying what is wrong, with a way back."""
    back = f'<p><a href="{_e(back_url)}">Back to the dashboard</a></p>' if back_url else ""
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status}: cart recovery'
            f'</title><style>{_CSS}</style></head><body><main><h1>Cart recovery</h1>'
            f'<p class="error" role="alert">{_e(message)}</p>{back}</main></body></html>')
    return Answer(status, html.encode(), "text/html; charset=utf-8", dict(HEADERS))


def render_page(engine: Any, action_url: str, csrf_field: str, *, shop_name: str | None = None,
                notice: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> str:
    """The whole page as HTML. ``csrf_field`` is the adapter's hidden input (trusted HTML,
    see ``hidden_field``); every other value is escaped here."""
    status = engine.status()
    now = status.get("now")
    title = "Cart recovery" + (f" · {shop_name}" if shop_name else "")
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f'<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>',
        f'<header><h1>{_e(title)}</h1><p class="muted">as of {_e(_when(now))}</p></header>',
    ]
    if notice:
        parts.append(f'<p class="notice" role="status">{_e(notice)}</p>')
    parts.append(_worker_section(status))
    parts.append(_flows_section(engine.flows(), action_url, csrf_field, now))
    parts.append(_report_section(engine, action_url, since, until))
    parts.append("</main></body></html>")
    return "".join(parts)


def _when(t: datetime | None) -> str:
    return "never" if t is None else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _ago(t: datetime | None, now: datetime | None) -> str:
    if t is None or now is None:
        return ""
    s = int((now - t).total_seconds())
    if s < 0:
        return " (in the future)"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= 2 * size:
            return f" ({s // size} {unit} ago)"
    return " (just now)" if s < 5 else f" ({s} s ago)"


def _worker_section(s: Mapping[str, Any]) -> str:
    now = s.get("now")
    healthy = bool(s.get("healthy"))
    problems = "".join(f"<li>{_e(p)}</li>" for p in s.get("problems") or [])
    rows = [
        ("Last worker run", _when(s.get("worker_last_run")) + _ago(s.get("worker_last_run"), now)),
        ("Jobs due now", s.get("jobs_due")),
        ("Jobs waiting", s.get("jobs_pending")),
        ("Oldest due job", _when(s.get("oldest_due")) if s.get("oldest_due") else "none"),
        ("Next job due", _when(s.get("next_due")) if s.get("next_due") else "none"),
        ("Worker thread in this process", "yes" if s.get("worker_running_here") else "no"),
        ("Reminders sent / failed", f"{s.get('messages_sent', 0)} / {s.get('messages_failed', 0)}"),
        ("Events waiting to be written", s.get("queued")),
        ("Events refused over the cap per cart (max_events_per_cart)", s.get("events_refused", 0)),
    ]
    if s.get("last_error"):
        rows.append(("Last error", s["last_error"]))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return (f'<section id="worker" aria-labelledby="worker-h"><h2 id="worker-h">Worker</h2>'
            f'<p class="health {"ok" if healthy else "bad"}" data-healthy="{str(healthy).lower()}">'
            f'{"Healthy" if healthy else "Needs attention"}</p>'
            f'{f"<ul class=problems>{problems}</ul>" if problems else ""}<dl>{dl}</dl></section>')


def describe_reason(reason: str) -> str:
    """A waiting step's reason code in the shop's words (the code is shown next to it)."""
    kind, _, detail = str(reason).partition(":")
    if kind == "coupon_pool_empty":
        return f"waiting for coupons: the pool {detail} is empty; importing codes resumes it"
    if kind == "flow_paused":
        return "held while the flow is paused"
    return str(reason)


def _flows_section(flows: list, action_url: str, csrf_field: str, now: datetime | None) -> str:
    rows = []
    for f in flows:
        name, status = f["name"], f.get("status", "running")
        by_staff = f.get("paused_by_staff")
        why = []
        if by_staff:
            why.append(f'<li class="staff">Paused by staff: {_e(by_staff.get("reason"))}'
                       f' <span class="muted">since {_e(_when(by_staff.get("at")))}</span></li>')
        for p in f.get("paused") or []:
            n = int(p.get("messages") or 0)
            why.append(f'<li>{_e(describe_reason(p["reason"]))} <code>{_e(p["reason"])}</code>'
                       f' <span class="muted">{n} reminder{"" if n == 1 else "s"} waiting</span></li>')
        if not why:
            why.append('<li class="muted">sending as reminders fall due</li>')
        if by_staff:
            button = _form(action_url, csrf_field, name, "resume", "Resume")
        else:
            button = _form(action_url, csrf_field, name, "pause", "Pause",
                           f'<input name="reason" maxlength="{MAX_REASON}" placeholder="reason (optional)"'
                           f' aria-label="Why pause {_e(name)}">')
        rows.append(f'<tr data-flow="{_e(name)}" data-status="{_e(status)}"><th scope="row">{_e(name)}</th>'
                    f'<td><span class="badge {_e(status)}">{_e(status)}</span></td>'
                    f'<td><ul class="why">{"".join(why)}</ul></td><td>{button}</td></tr>')
    body = "".join(rows) or '<tr><td colspan="4" class="muted">no flows</td></tr>'
    return ('<section id="flows" aria-labelledby="flows-h"><h2 id="flows-h">Flows</h2>'
            '<table><thead><tr><th>Flow</th><th>Status</th><th>Why</th><th></th></tr></thead>'
            f'<tbody>{body}</tbody></table></section>')


def _form(action_url: str, csrf_field: str, flow: str, action: str, label: str, extra: str = "") -> str:
    return (f'<form method="post" action="{_e(action_url)}" class="{action}">{csrf_field}'
            f'{hidden_field("flow", flow)}{hidden_field("action", action)}{extra}'
            f'<button type="submit" name="do" value="{action}">{_e(label)}</button></form>')


def _report_section(engine: Any, action_url: str, since: datetime | None, until: datetime | None) -> str:
    last_day = None if until is None else (until - timedelta(days=1)).date().isoformat()
    dates = (f'<form method="get" action="{_e(action_url)}" class="dates">'
             '<span class="muted">Period, in whole UTC days:</span> '
             f'<label>from <input type="date" name="since" value="{_e(since.date().isoformat() if since else "")}"></label> '
             f'<label>to <input type="date" name="until" value="{_e(last_day or "")}"></label> '
             '<button type="submit">Show</button></form>')
    return f'<section id="report" aria-label="Report">{dates}{report_html(engine, since, until)}</section>'


def report_html(engine: Any, since: datetime | None = None, until: datetime | None = None) -> str:
    """The report with its charts (``cartrecovery.report_html``: an embeddable fragment with
    its own heading)."""
    return render_report(engine, since, until, title="Report", full_page=False)


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;color:#1d2430;background:#f6f7f9;margin:0}
main{max-width:64rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0 0}h2{font-size:1.15rem;margin:0 0 .6rem}
main>section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:1rem;margin:1rem 0}
.muted{color:#667085}.notice{background:#e8f3ff;border:1px solid #a9cdf5;padding:.5rem .75rem;border-radius:6px}
.error{background:#fdecec;border:1px solid #f1a9a9;padding:.5rem .75rem;border-radius:6px}
.health{font-weight:600}.health.ok{color:#18794e}.health.bad{color:#b42318}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0 0}dt{color:#667085}dd{margin:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .5rem;border-top:1px solid #eceef2;vertical-align:top}
thead th{border-top:0;color:#667085;font-weight:500}#flows th[scope=row]{white-space:nowrap}
.scroll{overflow-x:auto}table.report th,table.report td{padding:.35rem .4rem;font-size:.9rem}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:99px;font-size:.85rem;font-weight:600}
.badge.running{background:#dcfae6;color:#085d3a}.badge.paused{background:#fef0c7;color:#93370d}
ul.why,ul.problems{margin:0;padding-left:1.1rem}code{font-size:.8rem;background:#f2f4f7;padding:0 .25rem;border-radius:4px}
form{display:flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:0}form.dates{margin-bottom:.75rem}
input{font:inherit;padding:.25rem .4rem;border:1px solid #c8ced8;border-radius:5px}
button{font:inherit;padding:.3rem .8rem;border-radius:5px;border:1px solid #98a2b3;background:#fff;cursor:pointer}
form.pause button{border-color:#dc6803;color:#93370d}form.resume button{border-color:#18794e;color:#085d3a}
"""
