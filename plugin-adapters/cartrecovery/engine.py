"""The Engine: the one object a shop talks to. Thin: values in, core call, values out."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping

from . import _checks, _core
from ._time import from_ms, to_ms
from .channels import Channel
from .clock import ManualClock
from .flows import coerce_flow

# Settings the engine understands; anything else is a ConfigError (a typo would otherwise
# silently do nothing).
_SETTINGS = {
    "shop_name", "base_url", "secret", "timezone", "currency", "contact_email", "contact_phone",
    "chat_url", "default_language", "templates", "policies", "unsubscribe_mailto",
    "outbox_directory", "sales_alert", "incentive", "worker_id", "queue_capacity", "max_batch", "lease_seconds",
    "max_attempts", "retry_base_seconds", "attribution_window_seconds", "worker_idle_seconds",
    "link_ttl_seconds", "coupon_pools", "exit_intent", "max_events_per_cart",
    "retention_events_days", "retention_bodies_days", "retention_carts_days",
    "retention_offers_days", "retention_reports_days", "retention_batch", "render_threads",
}
# Retention windows in days (0: keep for ever); see Engine.prune.
_DAYS = {"retention_events_days": "retention_events_ms", "retention_bodies_days": "retention_bodies_ms",
         "retention_carts_days": "retention_carts_ms", "retention_offers_days": "retention_offers_ms",
         "retention_reports_days": "retention_reports_ms"}
_SECONDS = {"lease_seconds": "lease_ms", "retry_base_seconds": "retry_base_ms",
            "attribution_window_seconds": "attribution_window_ms",
            "worker_idle_seconds": "worker_idle_ms", "link_ttl_seconds": "link_ttl_ms"}


def _native_settings(settings: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    _checks.mapping(settings, "settings", error=_checks.config_error)
    checked = {}
    for key, value in settings.items():
        if key not in _SETTINGS:
            err = _core.ConfigError(f"settings.{key}: unknown setting (known: {', '.join(sorted(_SETTINGS))})")
            err.field = f"settings.{key}"
            raise err
        checked[key] = value = _checks.setting(key, value)  # ConfigError naming the key
        if value is None:
            continue
        if key in _SECONDS:
            out[_SECONDS[key]] = int(value * 1000)
        elif key in _DAYS:
            out[_DAYS[key]] = int(value * 86_400_000)
        elif key == "secret":
            # Signs tracking links; a list rotates (the first signs, all verify). Never logged.
            out["secrets"] = value
        elif key == "policies":
            pass  # below, with the shop's time zone
        elif key == "templates":
            out["templates"] = str(value)
        else:
            out[key] = value
    policies = dict(checked.get("policies") or {})
    if checked.get("timezone") is not None:
        policies.setdefault("timezone", checked["timezone"])
    if policies:
        out["policies_json"] = json.dumps(policies, default=str)
    return out


# Store tables -> the names export() gives them.
_EXPORT_KINDS = {"contacts": "contacts", "consent_log": "consent_history", "visitors": "visitors",
                 "carts": "carts", "journeys": "journeys", "messages": "messages", "orders": "orders",
                 "coupons": "coupons", "offers": "popup_decisions", "assignments": "experiments",
                 "lead_days": "lead_days", "events": "events"}


def _text_arg(value: Any, field: str) -> str:
    """An optional text argument ("" when not given), checked like every other."""
    return _checks.text(value, field) or ""


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class Engine:
    """Feeds checkout events to the recovery core and runs its reminders.

    ``store``: "sqlite:///recovery.db" (default), ":memory:", or
    "postgresql://user@host:5432/db?schema=shop" for a shop on several hosts. ``flows``: None for
    ``default_flow()``, else Flow objects, dicts, JSON text or paths to JSON files.
    ``channels``: None sends everything to an outbox kept in the store; else a dict from
    channel name to Channel. ``clock``: a ManualClock for tests and replays.
    """

    def __init__(self, store: str = "sqlite:///recovery.db", flows: Iterable[Any] | None = None,
                 channels: Mapping[str, Channel] | None = None, clock: ManualClock | None = None,
                 settings: Mapping[str, Any] | None = None):
        self._flows = [coerce_flow(f) for f in flows] if flows is not None else []
        native_channels = None
        if channels is not None:
            native_channels = {}
            for name, channel in channels.items():
                if not isinstance(channel, Channel):
                    err = _core.ConfigError(f"channels.{name}: expected a Channel, got {type(channel).__name__}")
                    err.field = f"channels.{name}"
                    raise err
                native_channels[name] = channel._native
        if clock is not None and not isinstance(clock, ManualClock):
            raise _checks.config_error("clock", f"expected a cartrecovery.ManualClock or None, got {type(clock).__name__}")
        self.clock = clock
        self.settings = dict(_checks.mapping(settings or {}, "settings", error=_checks.config_error))
        native_settings = _native_settings(self.settings)
        store = _checks.path_text(store, "store", error=_checks.config_error)
        try:
            self._native = _core.Engine(
                store, [f.to_json() for f in self._flows], native_channels,
                clock._native if clock is not None else None, native_settings)
        except (TypeError, RuntimeError) as e:
            # A settings document whose inner value has the wrong type (pybind11's "Unable
            # to cast"): still the caller's configuration, still a ConfigError.
            if isinstance(e, _core.Error):
                raise
            raise _checks.config_error("settings", f"a value has the wrong type ({e})") from None
        self._channels = dict(channels or {})  # keeps Python callbacks alive with the engine

    # ---- events in ---------------------------------------------------------------------
    def track(self, type: str, *, at: datetime | None = None, durable: bool = False, **fields: Any) -> None:
        """Validates and queues one event (see API.md for types and fields). Raises
        ValidationError naming the field; nothing of a refused event is stored."""
        _checks.text(type, "type", required=True)
        self._native.track(type, fields, None if at is None else to_ms(at), bool(durable))

    def track_many(self, events: Iterable[Mapping[str, Any]], durable: bool = False) -> int:
        """Queues a batch ({"type": ..., "at": optional datetime, **fields}); all or nothing:
        one invalid event raises ValidationError ("[i].field") and none is queued."""
        batch = []
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise _checks.validation_error("events", f"expected a list of event dicts, got {type(events).__name__}")
        for i, event in enumerate(events):
            if not isinstance(event, Mapping):
                raise _checks.validation_error(f"[{i}]", f"expected an event dict, got {type(event).__name__}")
            fields = dict(event)
            type_ = fields.pop("type", None)
            if not isinstance(type_, str):
                err = _core.ValidationError(f"[{i}].type: is required")
                err.field = f"[{i}].type"
                raise err
            _checks.text(type_, f"[{i}].type", required=True)
            at = fields.pop("at", None)
            batch.append((type_, fields, None if at is None else to_ms(at, f"[{i}].at")))
        return self._native.track_many(batch, bool(durable))

    def prune(self, now: datetime | None = None) -> dict:
        """Retention now: removes every row older than its window (settings
        ``retention_events_days`` 90, ``retention_bodies_days`` 30 (rendered subject, text,
        HTML), ``retention_carts_days`` 180 (finished journeys, carts, contacts left with
        nothing), ``retention_offers_days`` 180, ``retention_reports_days`` 400 (message rows
        and orders); 0 keeps for ever). Reports keep their numbers through daily aggregates
        written before rows go. The worker does this by itself in bounded batches; returns
        how many rows went, by kind."""
        return self._native.prune(None if now is None else to_ms(now, "now"))

    # ---- a person's data (GDPR Articles 15 and 17) ----------------------------------------
    def export(self, email: str | None = None, phone: str | None = None) -> dict:
        """Everything stored about the person with this e-mail address and/or phone number,
        JSON-ready: ``contacts``, ``consent_history`` (what, granted, at_ms, source),
        ``visitors``, ``carts`` (items parsed), ``journeys``, ``messages`` (with their
        bodies), ``orders``, ``coupons``, ``popup_decisions``, ``experiments``,
        ``lead_days`` (days of pruned events: what made them a lead) and ``events`` (fields
        parsed); times are UTC milliseconds. Empty lists when nobody is
        known by them. ValidationError when neither is given or one is malformed."""
        data = json.loads(self._native.export_person(_text_arg(email, "email"), _text_arg(phone, "phone")))
        out: dict[str, Any] = {"email": data.pop("email") or None, "phone": data.pop("phone") or None}
        for table, key in _EXPORT_KINDS.items():
            rows = data.get(table, [])
            for row in rows:
                for field in ("items", "payload"):
                    if isinstance(row.get(field), str) and row[field][:1] in "[{":
                        row[field] = json.loads(row[field])
            out[key] = rows
        return out

    def forget(self, email: str | None = None, phone: str | None = None) -> dict:
        """Erases the person's personal data everywhere (contact, consent, visitor links,
        events, addresses and bodies of messages and alerts, coupon ownership), ends their
        running journeys, and keeps anonymous rows so counts and reports do not change; no
        trace of them stays in a SQLite store's files. Returns rows touched, by table
        (empty when nobody is known by them)."""
        return dict(self._native.forget(_text_arg(email, "email"), _text_arg(phone, "phone")))

    def flush(self) -> None:
        """Waits until every event accepted so far is committed."""
        self._native.flush()

    # ---- time --------------------------------------------------------------------------
    def run_due(self, now: datetime | None = None) -> int:
        """Runs every job due at ``now`` (default: the clock); returns how many ran."""
        return self._native.run_due(None if now is None else to_ms(now, "now"))

    def start(self) -> "Engine":
        """Runs the worker on a background thread (in this process)."""
        self._native.start()
        return self

    def stop(self) -> None:
        self._native.stop()

    @property
    def running(self) -> bool:
        return self._native.running

    def close(self) -> None:
        """Flushes, stops the worker and closes the store. Idempotent. Afterwards every other
        call raises ValidationError ("the engine is closed"), like I/O on a closed file."""
        native = getattr(self, "_native", None)  # absent when __init__ failed
        if native is not None:
            native.close()  # the core's Close() is idempotent and marks the engine closed

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # ---- looking inside ----------------------------------------------------------------
    def cart(self, cart_id: str) -> dict | None:
        d = self._native.cart(_checks.ident(cart_id, "cart_id", required=True))
        if d is None:
            return None
        d["value"] = _money(d["value"])
        d["last_activity"] = from_ms(d["last_activity"])
        for item in d["items"]:
            item["price"] = _money(item["price"])
        j = d["journey"]
        if j is not None:
            j["next_due"] = from_ms(j["next_due"])
            j["started_at"] = from_ms(j["started_at"])
        return d

    def messages(self, cart_id: str | None = None, email: str | None = None,
                 limit: int | None = 1000) -> list[dict]:
        """Messages of a cart and/or a contact (by e-mail), or of the whole store, oldest
        first, at most ``limit`` (None: all of them)."""
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            err = _core.ValidationError(f"limit: must be a whole number >= 1 or None, not {limit!r}")
            err.field = "limit"
            raise err
        cart_id = _checks.ident(cart_id or None, "cart_id")
        email = _checks.text(email or None, "email")
        rows = self._native.messages(cart_id or "", email or "", limit or 0)
        for m in rows:
            for key in ("due_at", "sent_at", "opened_at", "clicked_at"):
                m[key] = from_ms(m[key])
        return rows

    def report(self, since: datetime | None = None, until: datetime | None = None,
               by: Iterable[str] = ("flow", "step", "channel"), *, flow: str | None = None,
               path: str | None = None, step: int | None = None, channel: str | None = None,
               variant: str | None = None) -> list[dict]:
        """What was sent and what came back (R6.1), grouped by any of "flow", "path",
        "step", "channel", "variant", "day" (UTC) and filtered by the keywords. Rows: sent,
        delivered, bounced, failed, suppressed, opened, clicked, unsubscribed, orders,
        orders_with_coupon, revenue (Decimal), currency, ``ctr`` (clicked / sent) and
        ``conversion`` (orders / sent). An order counts when it follows a message to the
        same contact within the attribution window; the last such message gets it."""
        if isinstance(by, str):
            by = (by,)
        by = [_checks.text(b, "by", required=True) for b in by]
        where = {}
        for key, value in (("flow", flow), ("path", path), ("step", step), ("channel", channel),
                           ("variant", variant)):
            if value is not None:
                where[key] = _checks.text(str(value), key)
        rows = self._native.report(None if since is None else to_ms(since, "since"),
                                   None if until is None else to_ms(until, "until"), list(by), where)
        for r in rows:
            r["revenue"] = _money(r["revenue"])
            shown = r["sent"]
            r["ctr"] = (r["clicked"] / shown) if shown else 0.0
            r["conversion"] = (r["orders"] / shown) if shown else 0.0
        return rows

    def funnel(self, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
        """Where carts were left (R1.3): per checkout stage in order, the carts created in
        the range whose furthest stage it was, how many were abandoned and recovered."""
        return self._native.funnel(_ms_or(since, -(2 ** 62)), _ms_or(until, 2 ** 62))

    def leads(self, since: datetime | None = None, until: datetime | None = None) -> dict:
        """Lead temperature (R1.4, S9) of shoppers seen in the range, from whatever events
        the shop sends: {"cold", "warm", "hot"}. A shopper who ordered in the range is no
        lead; hot = reached checkout (contact, shipping or payment stage); warm = viewed
        products or categories, or had a cart that never reached checkout; cold = only
        visited. Shoppers are visitors, or carts when the shop sends no visitor id.
        Retention keeps the leads of whole days whose events were pruned; past the reports
        window (retention_reports_days) a shopper seen on several days counts once per day."""
        return self._native.leads(_ms_or(since, -(2 ** 62)), _ms_or(until, 2 ** 62))

    def experiment_report(self, name: str = "coupon", since: datetime | None = None,
                          until: datetime | None = None) -> list[dict]:
        """An experiment's results: ``name`` is a popup kind ("coupon", "email_capture") or a
        flow step's experiment name. Per variant (holdout included): ``trials``,
        ``conversions`` (an order within the attribution window after the decision or
        assignment), ``rate`` with a 95 % Wilson ``ci``, and ``vs_holdout`` (difference
        with Newcombe's 95 % interval). ``since``/``until`` keep the trials that started in
        that range (their orders may come up to the attribution window later)."""
        return self._native.experiment_report(name, *_range(since, until))

    def experiments(self, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
        """Every experiment the engine runs: ``name``, ``kind`` ("popup" or "step"),
        ``flow``, ``path``, ``step`` (None for popups) and its ``results`` (as
        ``experiment_report``, for trials in the range)."""
        out = self._native.experiments()
        for e in out:
            e["results"] = self._native.experiment_report(e["name"], *_range(since, until))
        return out

    def events(self, since: datetime | None = None, until: datetime | None = None,
               batch: int = 1000) -> Iterator[dict]:
        """The event log, oldest first: ``{"type", "at", **fields}`` with amounts as
        decimal text, each ready to feed back to ``track_many`` (exports, replays). Read in
        batches, so a long history does not sit in memory at once."""
        lo, hi = _ms_or(since, -(2 ** 62)), _ms_or(until, 2 ** 62)
        after = 0
        while True:
            rows = self._native.events(lo, hi, after, batch)
            for event_id, type_, at_ms, fields in rows:
                yield {"type": type_, "at": from_ms(at_ms), **json.loads(fields)}
                after = event_id
            if len(rows) < batch:
                return

    def status(self) -> dict:
        """When a worker last ran, how many jobs are due, the oldest overdue one, and whether
        that looks healthy: a scheduler that silently stopped shows here."""
        s = self._native.status()
        now = from_ms(s["now"])
        for key in ("now", "worker_last_run", "oldest_due", "next_due"):
            s[key] = from_ms(s[key])
        problems = []
        if s["jobs_due"] and s["oldest_due"] is not None:
            late = (now - s["oldest_due"]).total_seconds()
            if late > 300:
                problems.append(f"{s['jobs_due']} jobs overdue, the oldest by {_ago(late)}")
        if s["worker_last_run"] is None:
            if s["jobs_pending"]:
                problems.append("no worker has ever run on this store")
        elif s["jobs_due"] and (now - s["worker_last_run"]).total_seconds() > 300:
            problems.append(f"the last worker run was {_ago((now - s['worker_last_run']).total_seconds())} ago")
        # R4.3: reminders waiting for coupons, or for the shop's provider account (credit,
        # credentials), need someone to act.
        flows = self.flows()
        for flow in flows:
            for waiting in flow["paused"]:
                if waiting["reason"].startswith("coupon_pool_empty:"):
                    problems.append(f"flow {flow['name']}: {waiting['messages']} reminders wait for coupons "
                                    f"(pool {waiting['reason'].split(':', 1)[1]} is empty)")
                elif waiting["reason"].startswith("channel_unavailable:"):
                    problems.append(f"flow {flow['name']}: {waiting['messages']} reminders wait for a channel "
                                    f"({waiting['reason'].split(':', 1)[1]})")
        s["flows"] = flows
        s["healthy"] = not problems
        s["problems"] = problems
        return s

    def handle_link(self, path: str, method: str = "GET") -> dict:
        """Answers a tracking link for an adapter. ``path`` follows the base URL:
        "o/<token>.gif" (open pixel), "c/<token>" (click), "r/<token>" (restore cart),
        "u/<token>" (unsubscribe: GET shows a form, POST unsubscribes). Returns ``status``,
        ``content_type``, ``body`` (bytes), ``headers``, ``kind`` and, for a good restore
        link, ``cart`` (as ``cart()`` gives it) for the adapter to rebuild in the session.
        Bad or expired tokens are 400/410 answers, never exceptions or redirects."""
        path = _checks.text(path, "path", required=False) or ""  # "" is a 404 answer, not an error
        _checks.text(method, "method", required=True)
        r = self._native.handle_link(path, method.upper())
        cart_id = r.pop("cart_id")
        r["cart"] = self.cart(cart_id) if cart_id is not None else None
        return r

    # ---- offers ------------------------------------------------------------------------
    def exit_intent(self, visitor_id: str | None = None, cart_id: str | None = None,
                    context: Mapping[str, Any] | None = None) -> dict:
        """What to show a visitor about to leave (R5.1, R5.2): ``show``, ``kind`` ("coupon",
        "email_capture", "none"), ``variant``, ``coupon`` ({code, discount, expires_at} or
        None) and ``reason`` when nothing is shown. Asking again returns the recorded offer,
        never a second coupon. ``context`` (page, device) is accepted for adapters."""
        if not visitor_id:
            err = _core.ValidationError("visitor_id: is required")
            err.field = "visitor_id"
            raise err
        visitor_id = _checks.ident(visitor_id, "visitor_id", required=True)
        cart_id = _checks.ident(cart_id or None, "cart_id")
        d = self._native.exit_intent(visitor_id, cart_id or "")
        if d["coupon"] is not None:
            d["coupon"] = _coupon(d["coupon"])
        return d

    def add_coupon_pool(self, name: str, *, kind: str = "generated", percent=None, amount=None,
                        currency: str | None = None, code: str | None = None,
                        prefix: str | None = None, length: int | None = None,
                        valid_for: str | None = None) -> None:
        """Defines a coupon pool (R4.1): "static" (one ``code`` for everyone), "imported"
        (codes from CSV, see import_coupons) or "generated" (unique, unguessable codes with
        a ``prefix``). The discount is ``percent`` or a fixed ``amount`` in ``currency``;
        handed-out codes expire after ``valid_for`` ("7d")."""
        pool = {"name": _checks.text(name, "name", required=True),
                "kind": _checks.text(kind, "kind", required=True)}
        for key, value in (("percent", percent), ("amount", amount), ("currency", currency),
                           ("code", code), ("prefix", prefix), ("length", length),
                           ("valid_for", valid_for)):
            if value is not None:
                pool[key] = _checks.text(value, key) if isinstance(value, str) else value
        try:
            self._native.save_coupon_pool(pool)
        except (TypeError, RuntimeError) as e:
            if isinstance(e, _core.Error):
                raise
            raise _checks.validation_error("pool", f"a value has the wrong type ({e})") from None

    def import_coupons(self, pool: str, path: str, column: str | int = 0, has_header: bool = True,
                       progress=None) -> dict:
        """Streams codes from a CSV file into an imported pool (R4.2). ``column`` is a header
        name or a 0-based index. Returns imported, already_known, duplicates_in_file,
        bad_row_count and bad_rows [(line, reason, detail)]. ``progress(bytes_read)`` is
        called as the file is read."""
        _checks.text(pool, "pool", required=True)
        path = _checks.path_text(path, "path")
        if isinstance(column, str):
            name, index = _checks.text(column, "column", required=True), 0
        else:
            name, index = "", _checks.whole_number(column, "column", minimum=0)
        if progress is not None and not callable(progress):
            raise _checks.validation_error("progress", f"expected a callable, got {type(progress).__name__}")
        return self._native.import_coupons(pool, path, name, index, bool(has_header), progress)

    def flows(self) -> list[dict]:
        """Each flow and its state: "paused" while staff paused it (``paused_by_staff``:
        reason and time) or a step waits for coupons (R4.3: the pool is empty; importing
        codes resumes it), else "running". ``paused`` lists the waiting messages by reason."""
        paused: dict[str, list] = {}
        for flow, reason, count in self._native.paused_steps():
            paused.setdefault(flow, []).append({"reason": reason, "messages": count})
        by_staff = {name: {"reason": reason, "at": from_ms(at)}
                    for name, (reason, at) in self._native.flow_pauses().items()}
        configured = list(self._native.flow_names())
        # A flow this engine was not given (a CLI on the shop's store) still shows when the
        # store holds a pause for it.
        names = configured + sorted((set(paused) | set(by_staff)) - set(configured))
        return [{"name": name,
                 "status": "paused" if name in paused or name in by_staff else "running",
                 "paused": paused.get(name, []), "paused_by_staff": by_staff.get(name),
                 "configured": name in configured}
                for name in names]

    def pause_flow(self, name: str, reason: str = "paused by staff") -> None:
        """Stops a flow's reminders until ``resume_flow``: due steps wait (status "paused",
        reason "flow_paused"); on resume they go at once, each re-checked (ordered?
        unsubscribed? quiet hours?). Journeys still start while paused. An unknown flow
        raises ValidationError (field "flow")."""
        self._native.pause_flow(_checks.text(name, "flow", required=True), _checks.text(reason, "reason") or "")

    def resume_flow(self, name: str) -> None:
        self._native.resume_flow(_checks.text(name, "flow", required=True))

    def free_coupons(self, pool: str) -> int:
        return self._native.free_coupons(_checks.text(pool, "pool", required=True))

    def validate_coupon(self, code: str, email: str | None = None) -> dict:
        """At checkout: ``valid`` and, when not, ``problem`` ("unknown", "expired",
        "already_redeemed", "not_issued", "assigned_to_another_contact")."""
        d = self._native.validate_coupon(_checks.text(code, "code", required=True),
                                         _checks.text(email or None, "email") or "")
        d["coupon"] = _coupon(d["coupon"])
        return d

    def redeem_coupon(self, code: str, order_id: str, email: str | None = None) -> dict:
        """Uses a code for an order (one order per unique code; the same order may retry)."""
        d = self._native.redeem_coupon(_checks.text(code, "code", required=True),
                                       _checks.ident(order_id, "order_id", required=True),
                                       _checks.text(email or None, "email") or "")
        d["coupon"] = _coupon(d["coupon"])
        return d

    def set_order_check(self, fn) -> None:
        """The shop's own "has this cart been ordered?" (``fn(cart_id, email) -> bool``),
        asked before every reminder: True ends the journey as an order would. Use it when
        orders may reach the engine late (payment redirects, bank transfers)."""
        self._native.set_order_check(fn)

    def record_bounce(self, message_id: str, permanent: bool = True, reason: str | None = None,
                      event_id: str | None = None) -> None:
        """A provider's later report that a message did not arrive (e.g. anymail's tracking
        signal). A permanent bounce suppresses the address for later reminders."""
        fields = {"message_id": message_id, "permanent": bool(permanent)}
        if reason:
            fields["reason"] = reason[:500]
        if event_id:
            fields["event_id"] = event_id
        self.track("message_bounced", **fields)

    def send_test(self, channel: str, to: str, template: str | None = None,
                  language: str | None = None) -> None:
        """Sends the real reminder (``template``, default the first one) for a sample cart
        through the channel bound to ``channel`` now (R6.2: try it before going live).
        A coupon shows as ``SAMPLE-CODE``; no real code is handed out or used up. Nothing is
        stored; a refusal raises DeliveryError (``.transient`` tells which)."""
        self._native.send_test(_checks.text(channel, "channel", required=True),
                               _checks.text(to, "to", required=True),
                               _checks.text(template or None, "template") or "",
                               _checks.text(language or None, "language") or "")

    def flow_names(self) -> list[str]:
        return self._native.flow_names()

    def now(self) -> datetime:
        return from_ms(self._native.now_ms())


def _range(since: datetime | None, until: datetime | None) -> tuple[int | None, int | None]:
    return (None if since is None else to_ms(since, "since"),
            None if until is None else to_ms(until, "until"))


def _ms_or(when: datetime | None, default: int) -> int:
    return default if when is None else to_ms(when, "since/until")


def _coupon(c: dict | None) -> dict | None:
    if c is None:
        return None
    c = dict(c)
    c["expires_at"] = from_ms(c["expires_at"])
    discount = dict(c["discount"])
    for key in ("percent", "amount"):
        if key in discount:
            discount[key] = Decimal(discount[key])
    c["discount"] = discount
    return c


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
