"""CurrentRequestMiddleware: makes the request being served known to code that is not
handed it (signal receivers, model hooks), so ``cartrecovery.django.track_event()`` can
carry the visitor, cart and language of the shopper whose request set it off.

    MIDDLEWARE += ["cartrecovery.django.middleware.CurrentRequestMiddleware"]   # after sessions

A ContextVar, not a thread-local: it is right under ASGI too, where one thread serves many
requests, and it is cleared when the response is made.

``add_script`` is what the integration apps' middlewares (cartrecovery.contrib.oscar,
.salesman) do with the response: the browser script on pages whose templates the
framework owns.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

_current: ContextVar[Any] = ContextVar("cartrecovery_current_request", default=None)


def current_request() -> Any:
    """The request this thread (or task) is serving, or None outside one."""
    return _current.get()


class CurrentRequestMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        token = _current.set(request)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)

    async def _acall(self, request):
        token = _current.set(request)
        try:
            return await self.get_response(request)
        finally:
            _current.reset(token)


def add_script(request, response, page_type: str | None = None) -> None:
    """Puts the browser script before ``</body>`` of an HTML page the shop rendered, for
    integration apps whose framework owns the templates (no template to override). Leaves
    alone what is not a whole 200 HTML page, a page that has the script already, and, while
    the visitor has not consented (TRACKING_CONSENT), every page."""
    if (response.status_code != 200 or getattr(response, "streaming", False)
            or not response.get("Content-Type", "").startswith("text/html")
            or not hasattr(request, "session")):
        return
    content = response.content
    at = content.rfind(b"</body>")
    if at < 0 or b"data-cr-token" in content:
        return
    from . import script_tag

    tag = script_tag(request, page_type)  # "" before consent (TRACKING_CONSENT)
    if tag:
        response.content = content[:at] + tag.encode() + content[at:]
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
