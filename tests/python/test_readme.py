"""Every ```python block of README.md runs as written, each in a fresh interpreter and an
empty working directory, with the environment variables a shop would set.

KNOWN says how to run each block (by its section heading, and [n] when a section holds
several): "script" runs it as is; "django-settings" / "django-urls" run it as a project's
settings.py / urls.py (BASE_DIR, INSTALLED_APPS and urlpatterns already defined, as in a
`django-admin startproject` project); "after" is code run in the block's namespace afterwards,
to check what the block did. A new block that is not in KNOWN fails
test_every_block_is_known with its heading: add a line for it here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Run:
    kind: str = "script"       # script | django-settings | django-urls
    after: str = ""            # checks run in the block's namespace
    files: tuple = ()          # (name, text) written into the working directory first


KNOWN = {
    "Using it": Run(after="""
        engine = cr.Engine(store="sqlite:///recovery.db")
        cart = engine.cart("c1")
        assert cart["state"] == "ordered", cart   # ordered before any reminder
        assert engine.messages(cart_id="c1") == []   # ordered at once: no reminder
        engine.close()
    """),
    "In a Django or Flask shop [1]": Run(kind="django-settings", after="""
        from django.core.management import call_command
        call_command("check", "--fail-level", "ERROR")
        assert settings.CARTRECOVERY["STORE"].startswith("sqlite:///")
    """),
    "In a Django or Flask shop [2]": Run(kind="django-urls", after="""
        from django.test import Client
        r = Client().get("/cr/dashboard/")          # the URL the README names
        assert r.status_code != 404, r.status_code
        assert Client().get("/cr/dashboard").status_code in (301, 404)  # without the slash
    """),
    "In a Django or Flask shop [3]": Run(after="""
        client = app.test_client()
        assert client.post("/cart/add").status_code == 200
        with app.app_context():
            from cartrecovery.flask import engine
            engine().flush()
            assert engine().cart("c1")["items"][0]["sku"] == "KITE-1"
    """),
    "Channels, rules and links": Run(after="""
        assert cr.sms_info("Your kite waits")["encoding"] == "gsm7"
        engine.close()
    """, files=(("recovery_templates/.keep", ""),)),
    # The block closes its own engine; it must run as written (its prints are its output).
    "Playbooks: the stage reached, rationed incentives, quiet days": Run(),
    "Coupons, experiments and what came back": Run(after="""
        assert engine.experiment_report("first-reminder") is not None
        assert engine.free_coupons("SPRING") >= 1     # the CSV's codes went into the pool
        assert [f["name"] for f in engine.flows()] == ["cart-recovery"]
        engine.close()
    """, files=(("codes.csv", "code\nSPRING-AAA1\nSPRING-BBB2\n"),)),
}

# What a shop's environment would hold; the values are test values, never real secrets.
ENV = {
    "SMTP_PASSWORD": "test-password",
    "CARTRECOVERY_SECRET": "readme-test-secret-0123456789abcdef",
    "FLASK_SECRET_KEY": "readme-flask-secret",
    "TWILIO_ACCOUNT_SID": "ACtest", "TWILIO_AUTH_TOKEN": "test-token",
    "WEBHOOK_SECRET": "readme-webhook-secret",
}

_HARNESS = r'''
import json, os, sys, types
from pathlib import Path
job = json.loads(Path(sys.argv[1]).read_text())
for name, text in job["files"]:
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    Path(name).write_text(text)
ns = {"__name__": "readme_block"}
if job["kind"] in ("django-settings", "django-urls"):
    import django
    from django.conf import settings
    base = {"BASE_DIR": Path.cwd(), "SECRET_KEY": "readme", "DEBUG": False, "ALLOWED_HOSTS": ["*"],
            "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes",
                               "django.contrib.sessions", "django.contrib.messages"],
            "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                           "django.middleware.common.CommonMiddleware",
                           "django.contrib.auth.middleware.AuthenticationMiddleware",
                           "django.contrib.messages.middleware.MessageMiddleware"],
            "TEMPLATES": [{"BACKEND": "django.template.backends.django.DjangoTemplates",
                           "APP_DIRS": True, "OPTIONS": {"context_processors": [
                               "django.contrib.auth.context_processors.auth",
                               "django.contrib.messages.context_processors.messages",
                               "django.template.context_processors.request"]}}],
            "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}},
            "USE_TZ": True, "ROOT_URLCONF": "readme_urls"}
    # The shop's hooks the settings name (shop.cart / shop.orders).
    for mod, fn, body in (("shop.cart", "rebuild_from_recovery", lambda request, cart: None),
                          ("shop.orders", "cart_is_ordered", lambda cart_id: False)):
        m = types.ModuleType(mod); setattr(m, fn, body); sys.modules[mod] = m
    sys.modules["shop"] = types.ModuleType("shop")
    settings_ns = dict(base)
    exec(compile(job["settings"], "README.md[settings.py]", "exec"), settings_ns)
    settings.configure(**{k: v for k, v in settings_ns.items() if k.isupper()})
    django.setup()
    urls = types.ModuleType("readme_urls"); urls.urlpatterns = []; sys.modules["readme_urls"] = urls
    ns = urls.__dict__ if job["kind"] == "django-urls" else settings_ns
    ns["settings"] = settings
if job["kind"] != "django-settings":
    exec(compile(job["code"], "README.md[" + job["name"] + "]", "exec"), ns)
exec(compile(job["after"], "test_readme.py[after " + job["name"] + "]", "exec"), ns)
print("readme block ok")
'''


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(name, code) of each ```python block: the section heading, with [n] when the
    section holds more than one."""
    blocks, heading, counts = [], "(top)", {}
    for m in re.finditer(r"^(#{1,6}) ([^\n]+)$|^```python\n(.*?)^```", text, re.M | re.S):
        if m.group(1):
            heading = m.group(2).strip()
            continue
        counts[heading] = counts.get(heading, 0) + 1
        blocks.append((heading, counts[heading], m.group(3)))
    return [(h if counts[h] == 1 else f"{h} [{n}]", code) for h, n, code in blocks]


BLOCKS = readme_blocks(README.read_text())


def test_every_block_is_known():
    unknown = [name for name, _ in BLOCKS if name not in KNOWN]
    assert not unknown, (
        f"README.md has python blocks that tests/python/test_readme.py does not know how to run: "
        f"{unknown}. Add each to KNOWN there (usually Run() or Run(after=...) to check it).")
    stale = set(KNOWN) - {name for name, _ in BLOCKS}
    assert not stale, f"KNOWN names blocks README.md no longer has: {sorted(stale)}"


def _code(name: str) -> str:
    return dict(BLOCKS)[name]


@pytest.mark.parametrize("name", [name for name, _ in BLOCKS if name in KNOWN])
def test_readme_block_runs_as_written(name, tmp_path):
    run = KNOWN[name]
    job = {"name": name, "kind": run.kind, "code": _code(name), "after": textwrap.dedent(run.after),
           "files": list(run.files)}
    if run.kind.startswith("django"):
        # The urls.py block runs after the settings.py block, as Django loads them.
        job["settings"] = _code("In a Django or Flask shop [1]")
    (tmp_path / "job.json").write_text(json.dumps(job))
    (tmp_path / "harness.py").write_text(_HARNESS)
    work = tmp_path / "shop"
    work.mkdir()
    env = {**os.environ, **ENV}
    if "VAPID_PRIVATE_KEY" not in env:
        import cartrecovery as cr
        env["VAPID_PRIVATE_KEY"] = cr.generate_vapid_keys()[0]
    r = subprocess.run([sys.executable, str(tmp_path / "harness.py"), str(tmp_path / "job.json")],
                       cwd=work, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and "readme block ok" in r.stdout, (
        f"README block {name!r} failed:\n{r.stdout}\n{r.stderr}")
