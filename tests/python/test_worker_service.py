"""`cartrecovery worker` as a service: settings layered from a file, the environment and the
command line (Poco Util in the core), --once for cron, SIGTERM that releases claimed work,
and a `status` health check that never creates a store and fails when the worker is behind.

Real processes, a real SMTP sink (aiosmtpd) and the system clock: nothing is mocked."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import cartrecovery as cr
from cartrecovery.service import load_service_config
from conftest import seed_overdue_carts, store_execute, store_url

CARTS = 40


@pytest.fixture
def sink(smtp_server):
    """Accepts every message, a little slowly, so a SIGTERM lands in the middle of a batch."""
    return smtp_server(delay=0.05)


def cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cartrecovery", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def write_config(path, url: str, port: int) -> None:
    path.write_text(
        "# cartrecovery worker settings\n"
        f"store = {url}\n"
        "shop_name = Kite Shop\n"
        "base_url = https://kite.example/cr/\n"
        "smtp.host = 127.0.0.1\n"
        f"smtp.port = {port}\n"
        "smtp.security = plain\n"
        "smtp_sender = Kite Shop <shop@kite.example>\n"
        "worker_id = from-the-file\n")


def test_sigterm_releases_claimed_work_and_a_restart_sends_the_rest_once(tmp_path, sink):
    handler, port = sink
    db = tmp_path / "svc.db"
    url = store_url(db)
    seed_overdue_carts(url, CARTS)
    config = tmp_path / "worker.properties"
    write_config(config, url, port)

    # Behind: jobs overdue by hours and no worker ever ran.
    before = cli("status", "--config", str(config))
    assert before.returncode == 2, before.stdout + before.stderr
    assert "overdue" in before.stdout

    worker = subprocess.Popen([sys.executable, "-m", "cartrecovery", "worker", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while handler.count() < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handler.count() >= 5, "the worker sent nothing"
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "stopped cleanly" in err
    first_run = handler.count()
    assert first_run < CARTS, "SIGTERM came too late to test anything; slow the sink down"
    # Claimed work is handed back at once, not when its lease (5 minutes) runs out.
    assert store_execute(db, "SELECT count(*) FROM jobs WHERE state = 'claimed'")[0][0] in (0, "0")
    assert store_execute(db, "SELECT worker_id FROM workers")[0][0] == "from-the-file"

    # Restarted for cron: --once, with a setting from the environment and one from --set
    # (which beats both the environment and the file).
    again = cli("worker", "--config", str(config), "--once", "--set", "worker_id=from-the-command-line",
                env={"CARTRECOVERY_WORKER_ID": "from-the-environment", "CARTRECOVERY_SHOP_NAME": "Env Shop"})
    assert again.returncode == 0, again.stderr
    ids = {r[0] for r in store_execute(db, "SELECT worker_id FROM workers")}
    assert ids == {"from-the-file", "from-the-command-line"}

    # Nothing lost, nothing twice: one reminder per cart, each Message-ID once.
    assert handler.count() == CARTS
    assert len({message_id for _, message_id in handler.deliveries()}) == CARTS
    sent = store_execute(db, "SELECT count(*) FROM messages WHERE status = 'sent'")[0][0]
    assert int(sent) == CARTS

    after = cli("status", "--config", str(config))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "health         OK" in after.stdout


@pytest.mark.sqlite_only("a typo'd SQLite path")
def test_status_on_a_missing_store_fails_and_creates_nothing(tmp_path):
    typo = tmp_path / "recovry.db"
    r = cli("status", "--store", f"sqlite:///{typo}")
    assert r.returncode == 1
    assert f"no store at {typo}" in r.stderr
    assert not typo.exists() and list(tmp_path.iterdir()) == []
    # The same through the configuration file and the environment.
    config = tmp_path / "c.ini"
    config.write_text(f"store = sqlite:///{typo}\n")
    assert cli("status", "--config", str(config)).returncode == 1
    assert cli("status", env={"CARTRECOVERY_STORE": str(typo)}).returncode == 1
    assert not typo.exists()


def test_layers_command_line_over_environment_over_file_over_defaults(tmp_path):
    ini = tmp_path / "worker.ini"
    ini.write_text("store = sqlite:///from-file.db\nshop_name = File Shop\nlease_seconds = 30\n"
                   "[smtp]\nhost = mail.example\nport = 2525\nsecurity = plain\n")
    env = {"CARTRECOVERY_SHOP_NAME": "Env Shop", "CARTRECOVERY_LEASE_SECONDS": "45",
           "CARTRECOVERY_UNRELATED": "ignored", "PATH": "/bin"}
    config = load_service_config(str(ini), ["lease_seconds=60"], env)
    assert config.store == "sqlite:///from-file.db"
    assert config.settings["shop_name"] == "Env Shop"
    assert config.settings["lease_seconds"] == 60.0
    assert config.origins["lease_seconds"] == "command line"
    assert config.origins["shop_name"] == "environment CARTRECOVERY_SHOP_NAME"
    assert config.origins["store"] == f"file {ini}"
    assert config.origins["smtp_port"] == f"file {ini}"
    assert config.channels is not None and "email" in config.channels
    # The worker decides reminder coupons, so it reads the incentive budget too (JSON).
    budget = load_service_config(str(ini), ['incentive={"share": 0.1, "cooldown": "14d"}'], env)
    assert budget.settings["incentive"] == {"share": 0.1, "cooldown": "14d"}
    assert load_service_config(None, [], {"CARTRECOVERY_INCENTIVE": "false"}).settings["incentive"] is False
    defaults = load_service_config(None, [], {})
    assert defaults.store == "sqlite:///recovery.db" and defaults.origins["store"] == "default"
    assert defaults.channels is None  # no smtp_host: the outbox


def test_bad_settings_name_the_key_and_where_it_came_from(tmp_path):
    conf = tmp_path / "w.properties"
    conf.write_text("stroe = sqlite:///x.db\n")
    with pytest.raises(cr.ConfigError, match=r"unknown key 'stroe'") as e:
        load_service_config(str(conf), [], {})
    assert str(conf) in str(e.value)
    with pytest.raises(cr.ConfigError, match=r"lease_seconds \(environment CARTRECOVERY_LEASE_SECONDS\)"):
        load_service_config(None, [], {"CARTRECOVERY_LEASE_SECONDS": "soon"})
    with pytest.raises(cr.ConfigError, match=r"smtp_port \(command line\)"):
        load_service_config(None, ["smtp_port=twenty-five"], {})
    with pytest.raises(cr.ConfigError, match=r"--set: unknown key 'shopname'"):
        load_service_config(None, ["shopname=X"], {})
    with pytest.raises(cr.ConfigError, match=r"cannot be read"):
        load_service_config(str(tmp_path / "missing.ini"), [], {})
    # A secret's value never shows in an error.
    conf.write_text("secret = hunter2-very-secret\nqueue_capacity = lots\n")
    with pytest.raises(cr.ConfigError) as e:
        load_service_config(str(conf), [], {})
    assert "hunter2" not in str(e.value)
    r = cli("worker", "--config", str(conf), "--once")
    assert r.returncode == 1 and "queue_capacity" in r.stderr and "hunter2" not in r.stderr
