"""What the browser tests share: Debian's chromium driven by Playwright, and the Flask test
shop served by werkzeug on 127.0.0.1 with a ManualClock. Import it after the module-level
skips (it needs playwright and flask)."""
from __future__ import annotations

import threading

from playwright import sync_api
from werkzeug.serving import make_server

import cartrecovery as cr
from conftest import T0
from flask_testshop import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch_browser():
    """A context manager's worth of Chromium: ``with launch_browser() as browser``."""
    class _Browser:
        def __enter__(self):
            self._p = sync_api.sync_playwright().start()
            self.browser = self._p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            return self.browser

        def __exit__(self, *exc):
            self.browser.close()
            self._p.stop()

    return _Browser()


class ServedShop:
    """The test shop on a free port; ``engine`` is the one its requests use."""

    def __init__(self, db_path, **config):
        self.clock = cr.ManualClock(T0)
        self._app = None
        self.server = make_server("127.0.0.1", 0, lambda env, start: self._app(env, start), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._app = create_app(f"sqlite:///{db_path}", base_url=self.url + "/cr/", CLOCK=self.clock,
                               **config)
        with self._app.app_context():
            self.engine = self._app.extensions["cartrecovery"].holder.get()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self._app.extensions["cartrecovery"].holder.close()
