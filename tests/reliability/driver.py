"""Child-process driver for the reliability tests: runs the platform the way the CLI does, against a
persistent Dagster instance (``DAGSTER_HOME``), so the parent test can SIGKILL it at chosen points.

Usage (env: KINVOLVED_HOME, KINVOLVED_CONFIG_DIR, DAGSTER_HOME)::

    python driver.py ingest <customer> <date>[,<date>...] [--delivery NAME] [--marts]
    python driver.py process <customer> [--no-marts]
    python driver.py marts <customer> [--force]
    python driver.py sensor-runs <customer> [--marts]   the daemon's way: its own sensor cursor, each
                                                       request run with the daemon's dagster/run_key tag

Fault injection (test-only, patched in this process): ``RELIABILITY_FAILPOINT=<name>`` makes the
process SIGKILL itself (and its process group, so a dbt child dies too) at that point:

    extract        the delivery's ZIP is extracted to the temp folder, nothing loaded yet
    raw_write      after the first delivered entity is written to the staging Parquet folder (others not yet)
    checks         at the start of the expectation checks (all staged, nothing promoted)
    promote        after the first entity of the delivery was promoted into raw/ (promotion half done)
    publish        dbt build finished and green, just before the build file replaces marts.duckdb

The last stdout line is a JSON summary of the command.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

FAILPOINT = os.environ.get("RELIABILITY_FAILPOINT", "")


def _die(name: str) -> None:
    marker = os.environ.get("RELIABILITY_FAILPOINT_MARKER")
    if marker:
        Path(marker).write_text(name)
    sys.stdout.flush()
    os.killpg(os.getpgid(0), signal.SIGKILL)


def _counting(name: str, after: int, wrapped):
    calls = {"n": 0}

    def inner(*args, **kwargs):
        result = wrapped(*args, **kwargs)
        calls["n"] += 1
        if FAILPOINT == name and calls["n"] >= after:
            _die(name)
        return result

    return inner


def install_failpoints() -> None:
    if not FAILPOINT:
        return
    import kinvolved_assets.defs.marts as marts
    import kinvolved_assets.delivery.ingest as ingest
    import kinvolved_assets.expectations as expectations

    if FAILPOINT == "extract":
        real_open_delivery = ingest.open_delivery

        class _Extracted:
            def __init__(self, cm):
                self._cm = cm

            def __enter__(self):
                self._cm.__enter__()
                _die("extract")

            def __exit__(self, *exc):
                return self._cm.__exit__(*exc)

        ingest.open_delivery = lambda *a, **k: _Extracted(real_open_delivery(*a, **k))
    elif FAILPOINT == "raw_write":
        real_open = ingest.open_delivery

        class _DeliveryFiles:
            def __init__(self, cm):
                self._cm = cm

            def __enter__(self):
                delivery = self._cm.__enter__()
                real_load = delivery.load

                def load(*args, **kwargs):
                    result = real_load(*args, **kwargs)
                    if getattr(result, "present", True):   # this entity's staging Parquet is written
                        _die("raw_write")
                    return result

                delivery.load = load
                return delivery

            def __exit__(self, *exc):
                return self._cm.__exit__(*exc)

        ingest.open_delivery = lambda *a, **k: _DeliveryFiles(real_open(*a, **k))
    elif FAILPOINT == "checks":
        real_factory = expectations.expectations_validator

        def factory(*a, **k):
            validate = real_factory(*a, **k)
            calls = {"n": 0}

            def inner(entity, result, ctx):
                calls["n"] += 1
                if calls["n"] >= 1:
                    _die("checks")
                return validate(entity, result, ctx)

            return inner

        expectations.expectations_validator = factory
    elif FAILPOINT == "promote":
        ingest.promote = _counting("promote", 1, ingest.promote)
    elif FAILPOINT == "publish":
        real_publish = marts.publish_atomically

        def publish(build_file, published):
            _die("publish")
            real_publish(build_file, published)

        marts.publish_atomically = publish
    else:
        raise SystemExit(f"unknown failpoint {FAILPOINT!r}")


def _failure_messages(instance, run_id: str) -> list[str]:
    from dagster import DagsterEventType

    out = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
            data = event.event_specific_data
            err = getattr(data, "error", None)
            out.append(event.message or "")
            if err is not None:
                out.append(err.to_string())
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            if not data.passed:
                out.append(f"check failed: {data.asset_key.to_user_string()}:{data.check_name} "
                           + json.dumps({k: str(v.value) for k, v in data.metadata.items()}))
    return out


def _daemon_like_tick(defs, instance, customer: str) -> list:
    """One tick of the delivery sensor with a cursor of its own (the daemon keeps its own, not the
    CLI's), its requests run in process tagged as the daemon tags them (``dagster/run_key``)."""
    from dagster import build_sensor_context

    from kinvolved_assets.local_runner import run_backlog, run_ingest

    key = f"daemon_like_cursor__{customer}"
    stored = instance.run_storage.get_cursor_values({key}).get(key)
    sensor_def = defs.resolve_sensor_def(f"deliveries__{customer}")
    result = sensor_def.evaluate_tick(build_sensor_context(instance=instance, cursor=stored,
                                                           definitions=defs))
    if result.cursor is not None:
        instance.run_storage.set_cursor_values({key: result.cursor})
    runs = []
    for request in result.run_requests or []:
        tags = {**request.tags, "dagster/run_key": request.run_key}
        if request.job_name == "ingest_backlog":
            outcome = run_backlog(defs, instance, customer, run_config=request.run_config, tags=tags)
            runs.append(("backlog", outcome.run_id, outcome.success))
        else:
            outcome = run_ingest(defs, instance, request.partition_key, run_config=request.run_config,
                                 tags=tags)
            runs.append((request.partition_key.keys_by_dimension["date"], outcome.run_id, outcome.success))
    return runs


def main(argv: list[str]) -> int:
    install_failpoints()
    from dagster import DagsterInstance

    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.local_runner import process_landing, run_ingest, run_marts

    home = Path(os.environ["KINVOLVED_HOME"])
    defs = build_definitions(Path(os.environ["KINVOLVED_CONFIG_DIR"]), home, settle_seconds=0)
    instance = DagsterInstance.get()
    command, customer = argv[0], argv[1]
    summary: dict = {"command": command, "customer": customer}
    if command == "ingest":   # ingest <customer> <date>[,<date>...] [--delivery NAME] [--marts] [--force]
        delivery = argv[argv.index("--delivery") + 1] if "--delivery" in argv else None
        run_config = ({"ops": {"oneroster_delivery": {"config": {"delivery_file": delivery}}}}
                      if delivery else None)
        runs = []
        for date in argv[2].split(","):
            result = run_ingest(defs, instance, delivery_key(customer, date), run_config=run_config,
                                tags={"kinvolved/customer": customer})
            runs.append((date, result.run_id, result.success))
        summary.update(ingest_runs=runs, success=all(ok for *_, ok in runs), run_id=runs[-1][1])
        ok = summary["success"]
        if ok and "--marts" in argv:
            result = run_marts(defs, instance, customer, force_mass_deletion="--force" in argv)
            summary.update(marts_run=(result.run_id, result.success))
            ok = result.success
    elif command == "process":
        report = process_landing(defs, instance, customer, build_marts="--no-marts" not in argv)
        summary.update(ingest_runs=report.ingest_runs, marts_run=report.marts_run)
        ok = all(s for *_, s in report.ingest_runs) and (report.marts_run is None or report.marts_run[1])
    elif command == "sensor-runs":
        runs = _daemon_like_tick(defs, instance, customer)
        summary.update(ingest_runs=runs)
        ok = all(s for *_, s in runs)
        if ok and "--marts" in argv:
            result = run_marts(defs, instance, customer)
            summary.update(marts_run=(result.run_id, result.success))
            ok = result.success
    elif command == "marts":
        result = run_marts(defs, instance, customer, force_mass_deletion="--force" in argv)
        summary.update(success=result.success, run_id=result.run_id)
        ok = result.success
        if not ok:
            summary["failures"] = _failure_messages(instance, result.run_id)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(summary, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
