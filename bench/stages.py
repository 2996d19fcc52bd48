"""The benchmark's stages, each in its own measured process: ours (ingest, expectation suites, dbt
marts, the whole Dagster path), the DuckDB limit, the pandas peer, and the fixed nightly overhead."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.district import CUSTOMER, prepare_district
from bench.mart_rows import mart_rows
from bench.measure import run_measured
from bench.report import rates
from bench.stage_runs import REPO, base_env, check, run_worker, stage_dir
from kinvolved_assets.defs.marts_files import DBT_BUILD_NAME

ALL_STAGES = ("ingest", "expectations", "marts", "dagster", "limit", "peer", "overhead", "nightly")


def _dbt_vars(info: dict, raw: Path) -> dict:
    from kinvolved_assets.customers import load_customer_configs

    cfg = load_customer_configs(Path(info["config_dir"])).customers[CUSTOMER]
    return {**cfg.dbt_vars(), "raw_root": str(raw), "force_mass_deletion": False}


class _Stages(dict):
    """Stage figures; ``saved`` is called after every stage so an interrupted run keeps what it measured."""

    def __init__(self, saved=None):
        super().__init__()
        self.saved = saved

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if self.saved is not None:
            self.saved(self)


def run_scale(info: dict, stages: list[str], threads: int, log=print, saved=None) -> dict:
    root = Path(info["root"])
    landing = Path(info["landing"])
    common = {"config_dir": info["config_dir"], "customer": CUSTOMER,
              "deliveries_json": info["deliveries_json"]}
    out: dict[str, dict] = _Stages(saved)
    homes: dict[str, Path] = {}

    if "ingest" in stages or "marts" in stages:
        d, home, tmp = stage_dir(root, "ingest", landing)
        m = run_worker("ingest", "ingest", {**common, "home": str(home)}, d, tmp, [tmp], log)
        rows = m.result.get("rows_loaded", 0) + m.result.get("rows_rejected", 0)
        out["ingest"] = m.as_dict() | {"rows": rows}
        homes["ingest"] = home
    if "expectations" in stages:
        d, home, tmp = stage_dir(root, "expectations", landing)
        m = run_worker("expectations", "ingest", {**common, "home": str(home), "expectations": True}, d, tmp,
                       [tmp], log)
        r = m.as_dict()
        # the stage's own time is the time inside the validator; the process also re-ingests
        r["process_seconds"] = r["seconds"]
        r["seconds"] = m.result.get("validator_seconds", 0.0)
        r["rows"] = m.result.get("rows_loaded", 0)
        out["expectations"] = r
    if "marts" in stages:
        out["marts"] = _marts_stage(info, root, homes["ingest"], log)
    if "dagster" in stages:
        d, home, tmp = stage_dir(root, "dagster", landing)
        build_tmp = home / "warehouse" / CUSTOMER / "build"
        m = run_worker("dagster", "dagster", {**common, "home": str(home)}, d, tmp, [tmp, build_tmp], log)
        out["dagster"] = m.as_dict() | {"rows": info["rows"]}
    if "limit" in stages:
        d, _home, tmp = stage_dir(root, "limit", None)
        m = run_worker("limit", "limit", {**common, "landing": str(landing), "db": str(d / "limit.duckdb"),
                                          "tmp": str(tmp), "threads": threads}, d, tmp, [tmp], log)
        out["limit"] = m.as_dict() | {"rows": m.result.get("rows_loaded", 0)}
    if "peer" in stages:
        _peer_stages(info, root, landing, common, threads, out, log)
    rates(out)
    return dict(out)


def _marts_stage(info: dict, root: Path, ingest_home: Path, log) -> dict:
    """``dbt build`` of the marts over the ingest stage's raw Parquet as the product runs it (dbt in
    the process: ``bench.worker.stage_marts``), in a process of its own."""
    d = root / "stages" / "marts"
    shutil.rmtree(d, ignore_errors=True)
    tmp = d / "tmp"
    tmp.mkdir(parents=True)
    db = d / Path(DBT_BUILD_NAME).name   # the parsed relations' catalog is the build file's name
    args = {"db": str(db), "tmp": str(tmp), "target": str(d / "target"),
            "dbt_vars": _dbt_vars(info, ingest_home / "warehouse" / CUSTOMER / "raw")}
    m = run_worker("marts", "marts", args, d, tmp, [tmp], log)
    rows = mart_rows(db)
    return m.as_dict() | {"mart_rows": rows, "rows": rows.get("fct_student_daily_attendance", 0),
                          "dbt_build_seconds": m.result.get("build_seconds")}


def _peer_stages(info: dict, root: Path, landing: Path, common: dict, threads: int, out: dict, log) -> None:
    """The pandas peer: load, then its marts as plain SQL."""
    d, _home, tmp = stage_dir(root, "peer", None)
    args = {**common, "landing": str(landing), "db": str(d / "peer.duckdb"), "tmp": str(tmp),
            "threads": threads,
            "dbt_vars": _dbt_vars(info, Path("/nonexistent"))}
    m = run_worker("peer_load", "peer_load", args, d, tmp, [tmp], log)
    out["peer_load"] = m.as_dict() | {"rows": m.result.get("rows_loaded", 0)}
    m = run_worker("peer_marts", "peer_marts", args, d, tmp, [tmp], log)
    out["peer_marts"] = m.as_dict() | {"rows": m.result.get("mart_rows",
                                                            {}).get("fct_student_daily_attendance", 0)}


def fixed_overhead(work: Path, seed: int, log=print) -> dict:
    """One nightly run of a tiny district (one delivery): process start, imports, definitions, dbt parse."""
    info = prepare_district(work, "tiny", 1, seed, log)
    root = Path(info["root"])
    res: dict = {}
    env = base_env()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
    res["interpreter_start_seconds"] = round(time.perf_counter() - t, 3)
    # the nightly command as an operator (or cron) runs it
    d, home, tmp = stage_dir(root, "overhead_cli", Path(info["landing"]))
    cli = str(Path(sys.executable).parent / "kinvolved")
    log("  stage overhead: kinvolved ingest (tiny, one delivery) ...")
    m = run_measured("nightly_cli", [cli, "ingest", CUSTOMER],
                     env=base_env(tmp) | {"KINVOLVED_HOME": str(home),
                                          "KINVOLVED_CONFIG_DIR": info["config_dir"]},
                     cwd=REPO, log_file=d / "cli.log")
    check(m, log)
    res["nightly_cli"] = m.as_dict()
    d, home, tmp = stage_dir(root, "overhead_breakdown", Path(info["landing"]))
    m = run_worker("nightly_breakdown", "dagster", {"config_dir": info["config_dir"], "customer": CUSTOMER,
                                                    "deliveries_json": info["deliveries_json"],
                                                    "home": str(home)},
                   d, tmp, [], log)
    res["breakdown"] = m.as_dict()
    from kinvolved_assets.defs.marts import DBT_PROJECT_DIR, dbt_executable

    t = time.perf_counter()
    p = subprocess.run([dbt_executable(), "parse", "--no-partial-parse", "--project-dir",
                        str(DBT_PROJECT_DIR),
                        "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(d / "parse-target"),
                        "--log-path", str(d / "logs"), "--quiet"], env=env, capture_output=True, check=False)
    res["dbt_parse_seconds"] = round(time.perf_counter() - t, 3)
    res["dbt_parse_ok"] = p.returncode == 0
    return res
