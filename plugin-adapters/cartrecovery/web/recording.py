"""Sending suppressed, messages recorded: what Flask-Mail does under ``app.testing``.

A shop's test suite must not mail real shoppers through the SMTP server in its settings.
While suppressed, every channel the engine would send through is replaced by one that keeps
the rendered message (the dict a ``CallbackChannel`` receives) for whoever is recording:

    with recovery.record_messages() as outbox:
        engine.run_due()
    assert outbox[0]["to"] == "ann@example.com"

The engine still stores each message as sent, so reports and links behave as in production.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterable, Iterator

from ..channels import CallbackChannel
from ..flows import coerce_flow, default_flow


def channel_names(flows: Iterable[Any] | None, settings: dict | None = None) -> set[str]:
    """Every channel name the flows (and the sales alert) send through, plus "email"."""
    names = {"email"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "channels" and isinstance(value, list):
                    names.update(v for v in value if isinstance(v, str))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for flow in (list(flows) if flows is not None else [default_flow()]):
        walk(coerce_flow(flow).to_dict())
    walk((settings or {}).get("sales_alert"))
    return names


class MessageRecorder:
    """Keeps what suppressed channels would have sent, for each ``record()`` in progress.
    Channels run on the worker's thread, so the lists are guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outboxes: list[list[dict]] = []

    def _keep(self, message: dict) -> None:
        with self._lock:
            for outbox in self._outboxes:
                outbox.append(message)

    def channels(self, configured: dict | None, flows: Iterable[Any] | None,
                 settings: dict | None = None) -> dict:
        names = set(configured) if configured else channel_names(flows, settings)
        keep = CallbackChannel(self._keep)
        return {name: keep for name in sorted(names)}

    @contextlib.contextmanager
    def record(self) -> Iterator[list[dict]]:
        outbox: list[dict] = []
        with self._lock:
            self._outboxes.append(outbox)
        try:
            yield outbox
        finally:
            with self._lock:
                self._outboxes.remove(outbox)
