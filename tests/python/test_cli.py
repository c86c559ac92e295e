"""The command line: the demo replay, the scheduler's health, reports, a test message."""
import json
import subprocess
import sys
from datetime import timedelta


import cartrecovery as cr
from cartrecovery.cli import main
from conftest import T0, add_cart


def test_simulate_replays_traffic_and_reports_recoveries(tmp_path, capsys):
    store = f"sqlite:///{tmp_path}/sim.db"
    assert main(["simulate", "--store", store, "--shoppers", "60", "--days", "3",
                 "--outbox", str(tmp_path / "outbox")]) == 0
    out = capsys.readouterr().out
    assert "reminders sent" in out and "recovered orders" in out
    # What the summary says is what the store holds.
    engine = cr.Engine(store=store)
    total = engine.report(by=())[0]
    engine.close()
    sent_line = next(line for line in out.splitlines() if "reminders sent" in line)
    assert int(sent_line.split()[-1]) == total["sent"] > 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == total["sent"]


def test_simulate_is_repeatable_with_a_seed(tmp_path, capsys):
    outs = []
    for run in range(2):
        main(["simulate", "--store", f"sqlite:///{tmp_path}/s{run}.db", "--shoppers", "40", "--days", "2"])
        outs.append([l for l in capsys.readouterr().out.splitlines() if "store" not in l])
    assert outs[0] == outs[1]


def test_status_exits_2_when_jobs_are_overdue_and_no_worker_ran(tmp_path, capsys):
    store = f"sqlite:///{tmp_path}/st.db"
    clock = cr.ManualClock(T0 - timedelta(days=1))  # events a day old: their jobs are overdue now
    engine = cr.Engine(store=store, clock=clock)
    add_cart(engine, "c1")
    engine.close()
    assert main(["status", "--store", store]) == 2
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "no worker has ever run" in out
    engine = cr.Engine(store=store)
    engine.run_due()
    engine.close()
    assert main(["status", "--store", store, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["healthy"] is True and status["worker_last_run"] is not None


def test_report_prints_json(tmp_path, capsys):
    store = f"sqlite:///{tmp_path}/r.db"
    main(["simulate", "--store", store, "--shoppers", "30", "--days", "2"])
    capsys.readouterr()
    assert main(["report", "--store", store, "--by", "step", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["messages"]
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    assert all({"sent", "delivered", "orders", "revenue", "ctr"} <= set(r) for r in rows)
    assert [f["stage"] for f in data["funnel"]][0] == "cart"
    assert sum(f["carts"] for f in data["funnel"]) > 0 and data["leads"]["hot"] > 0
    assert main(["report", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "where carts were left" in text and "hot (a cart)" in text


def test_a_bad_store_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"not a database at all" * 100)
    assert main(["status", "--store", f"sqlite:///{foreign}"]) == 1
    assert "StoreError" in capsys.readouterr().err


def test_the_module_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "cartrecovery", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for command in ("simulate", "status", "worker", "report", "send-test"):
        assert command in out


def test_import_coupons_fills_the_pool_the_shop_defined_and_names_bad_lines(tmp_path, capsys):
    store = f"sqlite:///{tmp_path}/shop.db"
    shop = cr.Engine(store=store, settings={"coupon_pools": [{"name": "spring", "kind": "imported", "percent": 15}]})
    shop.close()  # the shop's engine saved its pools in the store
    csv = tmp_path / "codes.csv"
    csv.write_text("id,code\n1,SPRING001\n2,SPRING002\n3,SPRING001\n4,no way!\n")
    assert main(["import-coupons", "--store", store, "--pool", "spring", "--csv", str(csv), "--column", "code"]) == 0
    captured = capsys.readouterr()
    assert "imported 2 codes into spring" in captured.out and "1 repeated" in captured.out
    assert "line 5:" in captured.out and "importing" in captured.err
    engine = cr.Engine(store=store)
    assert engine.free_coupons("spring") == 2
    engine.close()
    assert main(["import-coupons", "--store", store, "--pool", "summer", "--csv", str(csv)]) == 1
    assert "summer" in capsys.readouterr().err
    assert main(["import-coupons", "--store", store, "--pool", "spring", "--csv", str(tmp_path / "none.csv")]) == 1


def test_status_names_flows_waiting_for_coupons_and_paused_by_staff(tmp_path, capsys):
    from conftest import HOUR, run_at
    store = f"sqlite:///{tmp_path}/shop.db"
    clock = cr.ManualClock(T0)
    flow = cr.Flow("coupons", paths=[cr.Path("all", steps=[cr.Step(after="1h", coupon="P")])])
    shop = cr.Engine(store=store, clock=clock, flows=[flow, cr.default_flow()], settings={
        "coupon_pools": [{"name": "P", "kind": "imported", "percent": 10}]})
    add_cart(shop, "c1")
    shop.pause_flow("cart-recovery", reason="new prices on Monday")
    run_at(shop, clock, T0 + HOUR)
    shop.close()
    # The command line knows none of the shop's flows; the store says what waits.
    assert main(["status", "--store", store]) == 2
    out = capsys.readouterr().out
    assert "paused flow    coupons: coupon_pool_empty:P (1 waiting)" in out
    assert "paused flow    cart-recovery: by staff: new prices on Monday" in out
    assert "reminders wait for coupons (pool P is empty)" in out
