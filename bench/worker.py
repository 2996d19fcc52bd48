"""Child-process entry point of one benchmark stage:
``python -m bench.worker <stage> <args-json> <out-json>``.

Every stage writes a JSON of its own figures (rows, sub-timings) to ``out-json``; the parent
measures wall time, peak RSS and spill around the whole process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from bench.mart_rows import mart_rows

T_START = time.perf_counter()


def _deliveries(args: dict) -> list[dict]:
    return json.loads(Path(args["deliveries_json"]).read_text())


def stage_ingest(args: dict) -> dict:
    """Read + validate every delivery to Parquet (``ingest_delivery``), in delivery order.

    ``expectations``: also run the expectation suites (the default validator of the Dagster asset);
    the time spent inside the validator is reported as ``validator_seconds``.
    """
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.delivery.ingest import AlreadyIngested, ingest_delivery
    from kinvolved_assets.paths import CustomerPaths

    t_import = time.perf_counter() - T_START
    config = load_customer_configs(Path(args["config_dir"])).customers[args["customer"]]
    paths = CustomerPaths.for_customer(args["customer"], Path(args["home"]))
    validators, reporter = [], None
    spent = {"validator": 0.0}
    if args.get("expectations"):
        from kinvolved_assets.expectations import delivery_reporter, expectations_validator

        inner = expectations_validator()

        def timed(name, result, ctx):
            t = time.perf_counter()
            try:
                return inner(name, result, ctx)
            finally:
                spent["validator"] += time.perf_counter() - t

        validators, reporter = [timed], delivery_reporter
    rows = rejected = same_bytes = 0
    blocked = []
    landing = config.landing_dir(paths.home)
    t0 = time.perf_counter()
    for i, d in enumerate(_deliveries(args)):
        try:
            out = ingest_delivery(config, paths, d["date"], run_id=f"bench{i:04d}",
                                  delivery_hint=str(landing / d["name"]),
                                  validators=validators, reporter=reporter)
        except AlreadyIngested:   # the same bytes as an earlier delivery (an empty delta): one delivery
            same_bytes += 1
            continue
        if not out.promoted:
            blocked.append(f"{d['date']}: {out.blocking_summary()}"[:300])
        for o in out.entities.values():
            rows += int(o.result.rows or 0)
            rejected += int(o.result.rejected_rows or 0)
    seconds = time.perf_counter() - t0
    return {"rows_loaded": rows, "rows_rejected": rejected, "deliveries": len(_deliveries(args)),
            "blocked": blocked, "same_bytes_skipped": same_bytes,
            "work_seconds": round(seconds, 3), "validator_seconds": round(spent["validator"], 3),
            "import_seconds": round(t_import, 3)}


def stage_limit(args: dict) -> dict:
    from bench.limit import load_all

    return load_all(_deliveries(args), Path(args["landing"]), Path(args["db"]), Path(args["tmp"]),
                    args["threads"])


def stage_peer_load(args: dict) -> dict:
    from bench.peer import load_all

    return load_all(_deliveries(args), Path(args["landing"]), Path(args["db"]), Path(args["tmp"]),
                    args["threads"])


def stage_peer_marts(args: dict) -> dict:
    from bench.peer import marts

    return marts(Path(args["db"]), args["dbt_vars"], args["threads"], Path(args["tmp"]))


def stage_dagster(args: dict) -> dict:
    """Sensor tick -> the runs it requests (one per delivery in date order, or one backlog run when the
    tick finds KINVOLVED_BACKLOG_MIN_DELIVERIES or more) -> marts run, as ``process_landing`` does (same
    functions, timed one by one), against a persistent instance like ``kinvolved ingest``."""
    t0 = time.perf_counter()
    import dagster  # noqa: F401

    t_dagster = time.perf_counter()
    from kinvolved_assets.cli.runs import instance_for
    from kinvolved_assets.defs.partitions import CUSTOMER_DIM, DATE_DIM
    from kinvolved_assets.local_runner import (
        run_backlog,
        run_ingest,
        run_marts,
        split_run_requests,
        tick_delivery_sensor,
    )

    os.environ["KINVOLVED_CONFIG_DIR"] = args["config_dir"]
    os.environ["KINVOLVED_HOME"] = args["home"]
    from kinvolved_assets.definitions import build_definitions  # module import builds the default defs once

    t_import = time.perf_counter()
    home = Path(args["home"])
    defs = build_definitions(Path(args["config_dir"]), home, settle_seconds=0)
    t_defs = time.perf_counter()
    instance = instance_for(home)
    t_inst = time.perf_counter()
    customer = args["customer"]
    tick = tick_delivery_sensor(defs, instance, customer)
    backlogs, requests = split_run_requests(tick.run_requests)
    t_tick = time.perf_counter()
    run_seconds, failed = [], []
    for request in backlogs:   # the sensor chose one run for the whole backlog
        t = time.perf_counter()
        res = run_backlog(defs, instance, customer, run_config=request.run_config, tags=dict(request.tags))
        run_seconds.append(time.perf_counter() - t)
        if not res.success:
            failed.append(request.tags.get("kinvolved/backlog_range"))
    for request in requests:
        t = time.perf_counter()
        key = request.partition_key
        assert key.keys_by_dimension[CUSTOMER_DIM] == customer
        res = run_ingest(defs, instance, key, run_config=request.run_config, tags=dict(request.tags))
        run_seconds.append(time.perf_counter() - t)
        if not res.success:
            failed.append(key.keys_by_dimension[DATE_DIM])
    t_runs = time.perf_counter()
    rss_after_ingest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    marts = run_marts(defs, instance, customer)
    t_marts = time.perf_counter()
    counted = mart_rows(home / "warehouse" / customer / "marts.duckdb")
    return {
        "ingest_runs": len(requests) + len(backlogs), "backlog_runs": len(backlogs),
        "deliveries": len(requests) + sum(int(r.tags.get("kinvolved/backlog_deliveries", 0))
                                          for r in backlogs),
        "failed_runs": failed, "marts_success": bool(marts.success),
        "breakdown_seconds": {
            "import_dagster": round(t_dagster - t0, 3),
            "import_kinvolved": round(t_import - t_dagster, 3),
            "build_definitions": round(t_defs - t_import, 3),
            "instance": round(t_inst - t_defs, 3),
            "sensor_tick": round(t_tick - t_inst, 3),
            "ingest_runs": round(t_runs - t_tick, 3),
            "marts_run": round(t_marts - t_runs, 3),
        },
        "ingest_run_seconds_median": (round(sorted(run_seconds)[len(run_seconds) // 2], 3)
                                      if run_seconds else None),
        "ingest_run_seconds_min": round(min(run_seconds), 3) if run_seconds else None,
        "mart_rows": counted,
        "peak_rss_mib_by_part": {
            "dagster_process_until_marts": round(rss_after_ingest, 1),
            "dagster_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "dbt_process": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        },
    }


def stage_marts(args: dict) -> dict:
    """``dbt build`` of the marts as the product runs it: in this process (``dbt_in_process.invoke``,
    the process's parse of the project included), with the customer's vars, on ``args["db"]``."""
    os.environ.update({"KINVOLVED_MARTS_DB": args["db"], "KINVOLVED_DUCKDB_TEMP_DIR": args["tmp"]})
    from kinvolved_assets.defs.dbt_in_process import PARSES, invoke
    from kinvolved_assets.defs.marts import DBT_PROJECT_DIR

    t0 = time.perf_counter()
    result = invoke(["build", "--vars", json.dumps(args["dbt_vars"])], DBT_PROJECT_DIR, DBT_PROJECT_DIR,
                    Path(args["target"]))
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception or 'a model or test failed'}")
    return {"build_seconds": round(time.perf_counter() - t0, 3), "parse": PARSES,
            "since_start": round(time.perf_counter() - T_START, 3)}


def stage_mart_rows(args: dict) -> dict:
    return {"mart_rows": mart_rows(Path(args["db"]))}


STAGES = {"ingest": stage_ingest, "limit": stage_limit, "peer_load": stage_peer_load,
          "peer_marts": stage_peer_marts, "dagster": stage_dagster, "marts": stage_marts,
          "mart_rows": stage_mart_rows}


def _vm_hwm() -> int:
    """Peak resident bytes of this process (VmHWM: exact, and reset by exec unlike ru_maxrss)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    stage, args, out = argv[0], json.loads(argv[1]), Path(argv[2])
    result = STAGES[stage](args)
    result["vm_hwm_bytes"] = _vm_hwm()
    out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
