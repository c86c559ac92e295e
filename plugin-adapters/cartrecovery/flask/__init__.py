"""Flask extension (Flask 2.2+ and 3.x).

    from cartrecovery.flask import CartRecovery, track
    app.config["CARTRECOVERY"] = {"SECRET": "...", "BASE_URL": "https://shop.example/cr/",
                                  "RESTORE_CART": "shop.cart.rebuild"}
    recovery = CartRecovery(app)          # or CartRecovery(); recovery.init_app(app)

    @app.post("/cart/add")
    def add():
        ...
        track("cart_updated", cart_id=cart.id, items=cart.items_for_recovery(), currency="EUR")

In templates: ``{{ cartrecovery_script("product", product_id=p.id, cart_items=n) }}``.
Commands: ``flask cartrecovery status | worker | report | send-test | import-coupons |
replay | export-events`` (the same commands and flags as the ``cartrecovery`` command line).

Under ``app.testing`` nothing is sent (as with Flask-Mail): every channel is replaced by one
that records, and ``recovery.record_messages()`` yields the messages the engine would have
sent. ``SUPPRESS_SEND`` (True/False) decides instead of ``app.testing`` when set.

Settings are read through ``cartrecovery.web.AdapterSettings`` (code, then
``app.config["CARTRECOVERY"]``, then ``CARTRECOVERY_*`` environment variables). The engine
opens on first use in each process (never in ``init_app``), so a pre-forking server gives
every worker its own. State lives in ``app.extensions["cartrecovery"]``; the extension
object keeps no reference to the app. With Flask-WTF's CSRFProtect, exempt the
"cartrecovery" blueprint: its POSTs are checked by origin and a signed token instead.

The staff dashboard (flows, worker health, pause/resume, the report) is at
``<mount>/dashboard``, closed until ``DASHBOARD_AUTH`` names a ``hook(request)`` that returns
True for staff (or a response, e.g. a redirect to the shop's login page):
``CartRecovery(app, dashboard_auth=lambda request: current_user.is_staff)``.
"""
from __future__ import annotations

import contextlib
from typing import Any

try:
    import click
    from flask import (Blueprint, Response, current_app, g, has_app_context, has_request_context,
                       redirect, request, session, url_for)
    from flask.cli import AppGroup, with_appcontext
    from markupsafe import Markup
    from werkzeug.wrappers import Response as BaseResponse
except ImportError as e:  # Flask is an extra: say how to get it, not which of its parts failed
    raise ImportError(f'cartrecovery.flask needs Flask ({e.name} is missing): '
                      f'pip install "cartrecovery[flask]"', name=e.name) from e

from .. import _core
from .. import dashboard
from .. import web
from ..engine import Engine
from ..web import commands
from ..web.recording import MessageRecorder

SESSION_VISITOR = "_cr_visitor"
SESSION_CART = "_cr_cart"


class _State:
    def __init__(self, cfg: web.AdapterSettings, recorder: MessageRecorder):
        self.cfg = cfg
        self.recorder = recorder
        self.holder = web.EngineHolder(self._open_engine)

    def _open_engine(self) -> Engine:
        # Opened in a request or command, so current_app is the app this state belongs to.
        suppress = self.cfg.get("SUPPRESS_SEND")
        if suppress is None:
            suppress = has_app_context() and current_app.testing
        return web.open_engine(self.cfg, channels=self.recorder.channels if suppress else None)


def _state() -> _State:
    try:
        return current_app.extensions["cartrecovery"]
    except KeyError:
        raise RuntimeError("cartrecovery: call CartRecovery(app) or init_app(app) first") from None


def engine() -> Engine:
    """This process's engine for the current app (opened on first use)."""
    return _state().holder.get()


def visitor_id() -> str:
    """The visitor id kept in the session, made on first use."""
    vid = session.get(SESSION_VISITOR)
    if not vid:
        vid = session[SESSION_VISITOR] = web.new_visitor_id()
    return vid


def tracking_allowed() -> bool:
    """False while TRACKING_CONSENT says this request's visitor has not agreed."""
    return web.tracking_allowed(_state().cfg, request)


def track(type: str, **fields: Any) -> bool:
    """engine.track() with what the request knows filled in: visitor id, the session's cart
    (remembered from the last event that named one), language from Accept-Language and the
    time zone the script reported. Returns False, having stored nothing and touched no
    session, while the visitor has not consented (TRACKING_CONSENT); orders and unsubscribes
    go all the same, without the visitor. Invalid fields raise cartrecovery.ValidationError."""
    if not tracking_allowed():
        if type not in web.WITHOUT_CONSENT:
            return False
        engine().track(type, **fields)
        return True
    if fields.get("cart_id"):
        session[SESSION_CART] = str(fields["cart_id"])
    event = web.fill_event(type, fields, visitor_id(), session.get(SESSION_CART),
                           web.language_from_accept(request.headers.get("Accept-Language")),
                           web.valid_timezone(request.cookies.get("cr_tz")))
    engine().track(type, **event)
    return True


def track_event(type: str, *, visitor_id: str | None = None, language: str | None = None,
                timezone: str | None = None, **fields: Any) -> bool:
    """engine.track() from code that may run outside a request (signal receivers, CLI
    commands, tasks under ``app.app_context()``): inside a request it is ``track()``; outside
    one the visitor and language are the arguments. What the caller passes always wins.
    Needs an app context; runs on the caller's thread; invalid fields raise
    cartrecovery.ValidationError. Returns False when nothing was stored for lack of consent."""
    given = {k: v for k, v in (("visitor_id", visitor_id), ("language", language),
                                ("timezone", timezone)) if v}
    if has_request_context():
        return track(type, **fields, **given)
    engine().track(type, **web.fill_event(type, fields, visitor_id, None, language, timezone))
    return True


def script_tag(page_type: str | None = None, **data: Any) -> Markup:
    """The <script> element for the browser script (a Jinja global: cartrecovery_script).
    Empty, and no session touched, while the visitor has not consented (TRACKING_CONSENT)."""
    st = _state()
    if not tracking_allowed():
        return Markup("")
    token = web.sign_visitor(st.cfg.get("SECRET"), visitor_id(), session.get(SESSION_CART))
    nonce = getattr(g, "csp_nonce", None) or getattr(request, "csp_nonce", None)
    if callable(nonce):
        nonce = nonce()
    endpoint = web.mount_path(st.cfg)
    return Markup(web.script_tag(endpoint + "cartrecovery.js", endpoint, token, page_type, nonce, **data))


def _response(a: web.Answer) -> Response:
    r = Response(a.body, status=a.status, content_type=a.content_type)
    for k, v in a.headers.items():
        r.headers[k] = v
    return r


def _body(limit: int) -> bytes:
    # Never read more than the limit (+1 to notice the excess), whatever Content-Length says.
    return request.stream.read(limit + 1)


def _own_origin() -> str:
    return web.origin_of(request.host_url) or ""


bp = Blueprint("cartrecovery", __name__)


def _no_consent() -> Response:
    return _response(web.Answer.error(web.BadRequest(403, web.consent.REFUSED)))


@bp.post("/b")
def beacon():
    st = _state()
    if not tracking_allowed():
        return _no_consent()
    limit = int(st.cfg.get("MAX_BODY_BYTES"))
    return _response(web.handle_beacon(st.holder.get, st.cfg, _body(limit), request.headers,
                                       _own_origin(), request.content_length, request.remote_addr))


@bp.post("/x")
def exit_intent():
    st = _state()
    if not tracking_allowed():
        return _no_consent()
    limit = int(st.cfg.get("MAX_BODY_BYTES"))
    return _response(web.handle_exit_intent(st.holder.get, st.cfg, _body(limit), request.headers,
                                            _own_origin(), request.content_length, request.remote_addr))


@bp.get("/cartrecovery.js")
def script():
    etag = web.script_etag()
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(web.script_bytes(), content_type="text/javascript; charset=utf-8",
                    headers={"ETag": etag, "Cache-Control": "public, max-age=3600"})


@bp.route("/<any(o, c, r, u):kind>/<token>", methods=["GET", "POST"])
def link(kind: str, token: str):
    st = _state()
    if request.method == "POST" and kind != "u":
        return Response("method not allowed", 405, content_type="text/plain")
    a = web.handle_link(st.holder.get(), f"{kind}/{token}", request.method)
    if a.kind == "restore" and a.status == 200 and a.cart is not None:
        # Rebuild the cart for whoever holds the link; never log anyone in.
        if a.cart.get("cart_id"):
            session[SESSION_CART] = str(a.cart["cart_id"])
        hook = st.cfg.hook("RESTORE_CART")
        target = hook(request, a.cart) if hook else None
        if isinstance(target, BaseResponse):
            return target  # the hook's own response (it may set a cookie)
        return redirect(target or st.cfg.get("CART_URL"), 302)
    return _response(a)


SESSION_FORM_NONCE = "_cr_staff_form"


def _dashboard_refusal(st: _State):
    """None when the DASHBOARD_AUTH hook says this request is staff; else the answer. The
    hook may return a response of its own (a redirect to the shop's login page). With no
    hook the dashboard is closed: it is never open by default."""
    auth = st.cfg.hook("DASHBOARD_AUTH")
    if auth is None:
        return _response(dashboard.error_answer(
            403, "staff only: set DASHBOARD_AUTH (a hook(request) -> True for staff) to open the dashboard"))
    verdict = auth(request)
    if verdict is True:
        return None
    if isinstance(verdict, BaseResponse):
        return verdict
    return _response(dashboard.error_answer(403, "staff only"))


@bp.route("/dashboard", methods=["GET", "POST"])
def staff_dashboard():
    st = _state()
    refused = _dashboard_refusal(st)
    if refused is not None:
        return refused
    secret = st.cfg.get("SECRET")
    if not secret:
        return _response(dashboard.error_answer(503, "SECRET is not set: the dashboard cannot protect its forms"))
    here = url_for(".staff_dashboard")
    if request.method == "POST":
        try:
            # A foreign Origin is refused outright; the token is what proves the form is ours.
            if request.headers.get("Origin") is not None:
                web.check_same_origin(request.headers, _own_origin(), web.allowed_origins(st.cfg))
            web.verify_form(secret, request.form.get("csrf_token"), session.get(SESSION_FORM_NONCE),
                            dashboard.PURPOSE)
        except web.BadRequest as e:
            return _response(dashboard.error_answer(e.status, e.message, here))
        return _response(dashboard.apply_form(st.holder.get(), request.form, here))
    nonce = session.get(SESSION_FORM_NONCE)
    if not nonce:
        nonce = session[SESSION_FORM_NONCE] = web.new_form_nonce()
    token = web.sign_form(secret, nonce, dashboard.PURPOSE)
    return _response(dashboard.page_answer(st.holder.get(), here, dashboard.hidden_field("csrf_token", token),
                                           request.args, st.cfg.get("SHOP_NAME")))


class CartRecovery:
    """The extension. ``CartRecovery(app, secret=..., base_url=...)``: keyword arguments
    override ``app.config["CARTRECOVERY"]`` (handy in tests)."""

    def __init__(self, app=None, **overrides: Any):
        self.overrides = overrides
        self.recorder = MessageRecorder()
        if app is not None:
            self.init_app(app)

    def init_app(self, app, **overrides: Any) -> None:
        source = dict(app.config.get("CARTRECOVERY") or {})
        for key in web.DEFAULTS:  # flat keys too: CARTRECOVERY_SECRET in app.config
            if "CARTRECOVERY_" + key in app.config and key not in source:
                source[key] = app.config["CARTRECOVERY_" + key]
        cfg = web.AdapterSettings(source, {**self.overrides, **overrides})
        for problem in cfg.problems():
            app.logger.warning("cartrecovery: %s", problem)
        app.extensions["cartrecovery"] = _State(cfg, self.recorder)
        app.register_blueprint(bp, url_prefix=web.mount_path(cfg).rstrip("/") or None)
        app.jinja_env.globals["cartrecovery_script"] = script_tag
        app.cli.add_command(cli)

    @staticmethod
    def engine() -> Engine:
        return engine()

    def record_messages(self) -> "contextlib.AbstractContextManager[list[dict]]":
        """What suppressed sending kept for the apps this extension was given to, inside
        the ``with`` block (no app context needed); see ``record_messages()``."""
        return self.recorder.record()


# ---- flask cartrecovery ... ----------------------------------------------------------
def _command_context() -> commands.Context:
    st = _state()
    return commands.Context(engine=st.holder.get, store=st.cfg.get("STORE"), out=click.echo,
                            err=lambda text: click.echo(text, err=True))


def _click_command(command: commands.Command) -> click.Command:
    params = [click.Option([opt.flag], is_flag=opt.is_flag, required=opt.required, help=opt.help,
                           default=False if opt.is_flag else opt.default, metavar=opt.metavar,
                           type=click.Choice(opt.choices) if opt.choices else None)
              for opt in command.options]

    def callback(**values: Any) -> None:
        ctx = _command_context()
        try:
            code = commands.run(command, ctx, values)
            ctx.engine().flush()  # what the command wrote is committed before the process ends
        except commands.CommandFailed as e:
            err = click.ClickException(str(e))
            err.exit_code = e.exit_code
            raise err from None
        except _core.Error as e:
            raise click.ClickException(f"{type(e).__name__}: {e}") from None
        if code:
            raise click.exceptions.Exit(code)

    return click.Command(command.name, callback=with_appcontext(callback), params=params,
                         help=command.help[0].upper() + command.help[1:] + ".")


cli = AppGroup("cartrecovery", help="Abandoned-cart recovery: the worker, its health, reports, "
                                    "coupons, a test reminder, replays.")
for _command in commands.COMMANDS:
    cli.add_command(_click_command(_command))


def record_messages() -> "contextlib.AbstractContextManager[list[dict]]":
    """While sending is suppressed (``app.testing``): the messages the engine hands to its
    channels inside the ``with`` block, as dicts (to, subject, text, html, message_id, ...)."""
    return _state().recorder.record()


__all__ = ["CartRecovery", "engine", "record_messages", "script_tag", "track", "track_event",
           "tracking_allowed", "visitor_id"]
