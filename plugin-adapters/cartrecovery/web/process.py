"""One engine per process: opened on first use, forgotten in a forked child.

Never opened at import, in ``AppConfig.ready()`` or in ``init_app()``, so each gunicorn
worker forked from a ``--preload`` master opens its own. After a fork the child forgets the
parent's engine (``os.register_at_fork``) and, as a second guard, a changed pid does the
same.
"""
from __future__ import annotations

import inspect
import os
import threading
from typing import Any, Callable

from .. import _core
from .settings import AdapterSettings

# Engines left behind by a fork. The child must not close them: their writer thread and
# store connection belong to the parent (closing would join a thread that does not exist
# here, or touch the parent's SQLite file state). Keeping a reference means __del__ never
# runs in the child.
_ORPHANED_BY_FORK: list[Any] = []
_HOLDERS: "list[EngineHolder]" = []
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    for holder in _HOLDERS:
        holder._forget_after_fork()


class EngineHolder:
    """Holds this process's engine; ``get()`` opens it with ``factory`` on first use."""

    def __init__(self, factory: Callable[[], Any]):
        global _fork_hook_installed
        self._factory = factory
        self._engine: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _HOLDERS.append(self)
        if not _fork_hook_installed:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_installed = True

    def get(self) -> Any:
        engine = self._engine
        if engine is not None and self._pid == os.getpid():
            return engine
        with self._lock:
            if self._pid != os.getpid():
                self._forget_after_fork()
            if self._engine is None:
                self._engine = self._factory()
                self._pid = os.getpid()
            return self._engine

    @property
    def opened(self) -> bool:
        return self._engine is not None and self._pid == os.getpid()

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None and self._pid == os.getpid():
            engine.close()

    def _forget_after_fork(self) -> None:
        if self._engine is not None:
            _ORPHANED_BY_FORK.append(self._engine)
        self._engine = None
        self._lock = threading.Lock()  # a lock held by another thread at fork stays held
        self._pid = os.getpid()


def order_check(hook: Callable | None) -> Callable[[str, str], bool] | None:
    """The shop's CART_IS_ORDERED hook as the engine asks it: ``hook(cart_id, email)``
    (email is None when the cart has no contact). A one-argument ``hook(cart_id)``, the
    form documented before, is still taken."""
    if hook is None:
        return None
    try:
        inspect.signature(hook).bind("cart", "email")
        takes_email = True
    except TypeError:
        takes_email = False
    except ValueError:  # no signature (a builtin): assume the documented form
        takes_email = True
    if takes_email:
        return lambda cart_id, email: bool(hook(cart_id, email or None))
    return lambda cart_id, email: bool(hook(cart_id))


def open_engine(cfg: AdapterSettings, channels: Callable[..., dict] | None = None) -> Any:
    """This process's engine as the settings describe it, with the shop's order check
    installed. ``channels`` may replace the configured channels (Flask under testing
    records instead of sending). A bad setting raises ``cfg.config_error``."""
    from ..engine import Engine

    try:
        kwargs = cfg.engine_kwargs()
        if channels is not None:
            kwargs["channels"] = channels(kwargs["channels"], kwargs["flows"], kwargs["settings"])
        check = order_check(cfg.hook("CART_IS_ORDERED"))
        engine = Engine(**kwargs)
    except _core.ConfigError as e:
        if isinstance(e, cfg.config_error):
            raise
        err = cfg.config_error(str(e))
        err.field = getattr(e, "field", None)
        raise err from e
    if check is not None:
        engine.set_order_check(check)
    return engine
