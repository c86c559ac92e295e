"""The peers tests/bench/bench_fire.py measures the engine against, written the way their
users write them: a Django app (the Cart model, templates, a cron command), the same
reminder as a Huey task and as a Celery task. Each runs in its own process, started by the
bench with FIRE_DB naming the shop's SQLite file; `fire_peers` is also the Django app."""
