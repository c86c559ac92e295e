"""Views: request to event, engine answer to response. No recovery logic here.

The POST endpoints are csrf_exempt on purpose: beacons are authenticated by the same-origin
check and a signed visitor token, and one-click unsubscribe (RFC 8058) is posted by mail
clients that hold no CSRF token. The staff dashboard's forms are the exception: they carry
Django's CSRF token."""
from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import web
from . import SESSION_CART, config, engine, tracking_allowed


def _no_consent() -> HttpResponse:
    return _response(web.Answer.error(web.BadRequest(403, web.consent.REFUSED)))


def _response(a: web.Answer) -> HttpResponse:
    r = HttpResponse(a.body, status=a.status, content_type=a.content_type)
    for k, v in a.headers.items():
        r[k] = v
    return r


def _own_origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _body(request, limit: int) -> bytes:
    # Read at most limit + 1 bytes from the stream: never the whole of an oversized body.
    return request.read(limit + 1)


def _length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return None


@csrf_exempt
@require_POST
def beacon(request):
    if not tracking_allowed(request):
        return _no_consent()
    cfg = config()
    return _response(web.handle_beacon(engine, cfg, _body(request, int(cfg.get("MAX_BODY_BYTES"))),
                                       request.headers, _own_origin(request), _length(request),
                                       request.META.get("REMOTE_ADDR")))


@csrf_exempt
@require_POST
def exit_intent(request):
    if not tracking_allowed(request):
        return _no_consent()
    cfg = config()
    return _response(web.handle_exit_intent(engine, cfg, _body(request, int(cfg.get("MAX_BODY_BYTES"))),
                                            request.headers, _own_origin(request), _length(request),
                                            request.META.get("REMOTE_ADDR")))


@require_GET
def script(request):
    etag = web.script_etag()
    if request.headers.get("If-None-Match") == etag:
        r = HttpResponse(status=304)
    else:
        r = HttpResponse(web.script_bytes(), content_type="text/javascript; charset=utf-8")
        r["Cache-Control"] = "public, max-age=3600"
    r["ETag"] = etag
    return r


@csrf_exempt
def link(request, kind: str, token: str):
    if request.method not in ("GET", "HEAD") and not (kind == "u" and request.method == "POST"):
        return HttpResponseNotAllowed(["POST", "GET"] if kind == "u" else ["GET"])
    path = f"{kind}/{token}.gif" if kind == "o" else f"{kind}/{token}"
    a = web.handle_link(engine(), path, "POST" if request.method == "POST" else "GET")
    if a.kind == "restore" and a.status == 200 and a.cart is not None:
        # Rebuild the cart for whoever holds the link; never log anyone in.
        if a.cart.get("cart_id"):
            request.session[SESSION_CART] = str(a.cart["cart_id"])
        hook = config().hook("RESTORE_CART")
        target = hook(request, a.cart) if hook else None
        if isinstance(target, HttpResponseBase):
            return target  # the hook's own response (it may set the framework's basket cookie)
        return HttpResponseRedirect(target or config().get("CART_URL"))
    return _response(a)


# ---- the staff dashboard ---------------------------------------------------------------
# Not csrf_exempt: its pause/resume forms carry Django's own CSRF token, enforced here even
# when a project has taken CsrfViewMiddleware out.
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def dashboard(request):
    """Flows and why they wait, worker health, pause/resume, the report: for active staff
    users only. Anonymous visitors go to the login page (as the admin does); logged-in
    users who are not staff get 403."""
    from django.middleware.csrf import get_token

    from .. import dashboard as board

    user = getattr(request, "user", None)
    if user is None:
        return _response(board.error_answer(
            403, "the dashboard needs django.contrib.auth's AuthenticationMiddleware"))
    if not user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login  # needs django.contrib.auth

        return redirect_to_login(request.get_full_path())
    if not (user.is_active and user.is_staff):
        return _response(board.error_answer(403, "staff only"))
    here = request.path
    if request.method == "POST":
        return _response(board.apply_form(engine(), request.POST, here, who=user.get_username()))
    csrf = board.hidden_field("csrfmiddlewaretoken", get_token(request))
    return _response(board.page_answer(engine(), here, csrf, request.GET, config().get("SHOP_NAME")))
