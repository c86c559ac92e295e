"""What the end-to-end tests of the shop framework apps (test_oscar.py, test_salesman.py)
share: their scenarios run in a child pytest of their own (Django is set up once per
process, and each shop is another Django project), and every shop refuses the same hostile
beacons, storing nothing."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HOSTILE_BEACONS = ["forged", "cross_origin", "no_origin", "oversized"]


def run_scenarios_in_child(test_file: str, env: dict[str, str]) -> None:
    """Runs ``test_file`` again in a child pytest with ``env`` added; fails showing its
    output unless it passed. The framework's dependencies may warn about their own
    deprecations; ours stay errors."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-W", "ignore::DeprecationWarning", "-W", "ignore::PendingDeprecationWarning",
                          "-W", "error::DeprecationWarning:cartrecovery", test_file],
                         cwd=Path(test_file).parent, env={**os.environ, **env},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert re.search(r"\b\d+ passed\b", run.stdout), run.stdout[-2000:]


def refuses_hostile_beacon(engine, client, page: str, cart_id: str, case: str) -> None:
    """Posts the beacon ``case`` names with the shopper's ``client`` (the token taken from
    ``page``, one of the shop's HTML pages): it must get a 4xx with an error and store no
    event."""
    from cartrecovery import web

    token = re.search(r'data-cr-token="([^"]+)"', client.get(page).content.decode()).group(1)
    engine.flush()
    before = len(list(engine.events()))
    body = {"t": token, "events": [{"type": "contact", "email": "evil@example.com"}]}
    headers = {"Origin": "http://testserver"}
    if case == "forged":
        body["t"] = web.sign_visitor("not-the-shop-secret-1234", "v_x", cart_id)
    elif case == "cross_origin":
        headers = {"Origin": "https://evil.example"}
    elif case == "no_origin":
        headers = {}
    data = json.dumps(body) if case != "oversized" else "x" * 10000
    r = client.post("/cr/b", data, content_type="text/plain", headers=headers)
    assert 400 <= r.status_code < 500 and "error" in r.json(), (case, r.status_code, r.content[:300])
    engine.flush()
    assert len(list(engine.events())) == before, f"{case}: the beacon stored events"
