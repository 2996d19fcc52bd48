"""Benchmark orchestration: generate (cached) -> run each stage in its own measured process -> ratios."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import yaml

from bench.measure import MIB, Measured, run_measured, worker_cmd

CUSTOMER = "bench"
SCHOOL_YEAR = 2026
ALL_STAGES = ("ingest", "expectations", "marts", "dagster", "limit", "peer", "overhead", "nightly")
REPO = Path(__file__).resolve().parents[1]


def full_year_days() -> int:
    from kinvolved_assets.generator.calendar import build_calendar

    cal = build_calendar(SCHOOL_YEAR)
    return (cal.end - cal.start).days + 1


def base_env(tmp: Path | None = None) -> dict:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if tmp is not None:
        tmp.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmp)
    return env


def prepare_district(work: Path, scale: str, days: int, seed: int, log=print, fmt: str = "loose") -> dict:
    """Generate the district once per (scale, days, seed, format); later runs reuse the files.

    ``fmt="zip"``: one ZIP per delivery, as districts send them (about a seventh of the CSV's bytes
    on disk, twice over: landing and archive); only our own stages read ZIPs."""
    from kinvolved_assets.generator import generate, suggested_config
    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.oneroster import spec

    root = work / (f"{scale}-s{seed}-d{days}" + ("-zip" if fmt == "zip" else ""))
    info_path = root / "district.json"
    if info_path.exists():
        return json.loads(info_path.read_text())
    shutil.rmtree(root, ignore_errors=True)
    landing = root / "landing"
    start = build_calendar(SCHOOL_YEAR).start
    log(f"generating {scale} district, {days} days from {start} (seed {seed}) ...")
    res = generate(CUSTOMER, scale, seed, start, days, landing, fmt=fmt, school_year=SCHOOL_YEAR)
    stems = {e.file_stem.lower(): e.name for e in spec.ENTITIES}
    drops = []
    csv_bytes = 0
    for d in res.drops:
        if fmt == "zip":
            with zipfile.ZipFile(d.path) as zf:
                members = zf.infolist()
            names = sorted(Path(i.filename).name for i in members)
            csv_bytes += sum(i.file_size for i in members if i.filename.lower().endswith(".csv"))
        else:
            names = sorted(p.name for p in d.path.iterdir())
            csv_bytes += sum(p.stat().st_size for p in d.path.rglob("*.csv"))
        files = {stems[Path(n).stem.lower()]: n for n in names if Path(n).stem.lower() in stems}
        drops.append({"date": d.delivery_date.isoformat(), "name": d.path.name, "files": files,
                      "modes": {e: d.mode for e in files}, "rows": d.rows})
    (root / "drops.json").write_text(json.dumps(drops))
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / f"{CUSTOMER}.yaml").write_text(yaml.safe_dump(suggested_config(CUSTOMER, scale, seed, SCHOOL_YEAR),
                                                                 sort_keys=False))
    info = {"scale": scale, "days": days, "seed": seed, "root": str(root), "landing": str(landing),
            "drops_json": str(root / "drops.json"), "config_dir": str(config_dir), "deliveries": len(drops),
            "rows": sum(res.counts.values()), "rows_by_entity": res.counts, "csv_mib": round(csv_bytes / MIB, 1),
            "final": res.final, "generate_seconds": round(res.elapsed_seconds, 1), "format": fmt,
            "landing_mib": round(sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / MIB, 1)}
    info_path.write_text(json.dumps(info, indent=1))
    return info


def _link_tree(src: Path, dest: Path) -> None:
    """Hard-link a generated landing into a stage's KINVOLVED_HOME (no copy, same bytes)."""
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            try:
                os.link(Path(dirpath) / f, dest / rel / f)
            except OSError:
                shutil.copy2(Path(dirpath) / f, dest / rel / f)


def _stage_dir(root: Path, name: str, landing: Path | None) -> tuple[Path, Path, Path]:
    d = root / "stages" / name
    shutil.rmtree(d, ignore_errors=True)
    home, tmp = d / "home", d / "tmp"
    tmp.mkdir(parents=True)
    home.mkdir()
    if landing is not None:
        _link_tree(landing, home / "landing" / CUSTOMER)
    return d, home, tmp


def _dbt_vars(info: dict, raw: Path) -> dict:
    from kinvolved_assets.customers import load_customer_configs

    cfg = load_customer_configs(Path(info["config_dir"])).customers[CUSTOMER]
    return {**cfg.dbt_vars(), "raw_root": str(raw), "force_mass_deletion": False}


def _worker(name: str, stage: str, args: dict, d: Path, tmp: Path, spill: list[Path], log) -> Measured:
    out = d / f"{stage}.result.json"
    log(f"  stage {name} ...")
    m = run_measured(name, worker_cmd(stage, args, out), env=base_env(tmp), spill_dirs=spill, result_file=out,
                     cwd=REPO, log_file=d / f"{name}.log")
    _check(m, log)
    return m


def _check(m: Measured, log) -> None:
    status = "ok" if m.returncode == 0 else f"FAILED rc={m.returncode}"
    log(f"    {m.name}: {m.seconds:.1f} s, peak {m.peak_rss_bytes / MIB:.0f} MiB, spill {m.spill_bytes / MIB:.0f} MiB ({status})")
    if m.returncode:
        log(m.stderr_tail)


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
    common = {"config_dir": info["config_dir"], "customer": CUSTOMER, "drops_json": info["drops_json"]}
    out: dict[str, dict] = _Stages(saved)
    homes: dict[str, Path] = {}

    if "ingest" in stages or "marts" in stages:
        d, home, tmp = _stage_dir(root, "ingest", landing)
        m = _worker("ingest", "ingest", {**common, "home": str(home)}, d, tmp, [tmp], log)
        out["ingest"] = m.as_dict() | {"rows": m.result.get("rows_loaded", 0) + m.result.get("rows_rejected", 0)}
        homes["ingest"] = home
    if "expectations" in stages:
        d, home, tmp = _stage_dir(root, "expectations", landing)
        m = _worker("expectations", "ingest", {**common, "home": str(home), "expectations": True}, d, tmp, [tmp], log)
        r = m.as_dict()
        # the stage's own time is the time inside the validator; the process also re-ingests
        r["process_seconds"] = r["seconds"]
        r["seconds"] = m.result.get("validator_seconds", 0.0)
        r["rows"] = m.result.get("rows_loaded", 0)
        out["expectations"] = r
    if "marts" in stages:
        d = root / "stages" / "marts"
        shutil.rmtree(d, ignore_errors=True)
        tmp = d / "tmp"
        tmp.mkdir(parents=True)
        db = d / "marts.duckdb"
        dbt_vars = _dbt_vars(info, homes["ingest"] / "warehouse" / CUSTOMER / "raw")
        from kinvolved_assets.defs.marts import DBT_PROJECT_DIR, dbt_executable

        env = base_env(tmp) | {"KINVOLVED_MARTS_DB": str(db), "KINVOLVED_DUCKDB_TEMP_DIR": str(tmp)}
        cmd = [dbt_executable(), "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
               "--target-path", str(d / "target"), "--log-path", str(d / "logs"), "--vars", json.dumps(dbt_vars)]
        log("  stage marts (dbt build) ...")
        m = run_measured("marts", cmd, env=env, spill_dirs=[tmp], cwd=REPO, log_file=d / "marts.log")
        _check(m, log)
        rows = _mart_rows(db)
        out["marts"] = m.as_dict() | {"mart_rows": rows, "rows": rows.get("fct_student_daily_attendance", 0)}
    if "dagster" in stages:
        d, home, tmp = _stage_dir(root, "dagster", landing)
        build_tmp = home / "warehouse" / CUSTOMER / "build"
        m = _worker("dagster", "dagster", {**common, "home": str(home)}, d, tmp, [tmp, build_tmp], log)
        out["dagster"] = m.as_dict() | {"rows": info["rows"]}
    if "limit" in stages:
        d, _home, tmp = _stage_dir(root, "limit", None)
        m = _worker("limit", "limit", {**common, "landing": str(landing), "db": str(d / "limit.duckdb"),
                                       "tmp": str(tmp), "threads": threads}, d, tmp, [tmp], log)
        out["limit"] = m.as_dict() | {"rows": m.result.get("rows_loaded", 0)}
    if "peer" in stages:
        d, _home, tmp = _stage_dir(root, "peer", None)
        args = {**common, "landing": str(landing), "db": str(d / "peer.duckdb"), "tmp": str(tmp), "threads": threads,
                "dbt_vars": _dbt_vars(info, Path("/nonexistent"))}
        m = _worker("peer_load", "peer_load", args, d, tmp, [tmp], log)
        out["peer_load"] = m.as_dict() | {"rows": m.result.get("rows_loaded", 0)}
        m = _worker("peer_marts", "peer_marts", args, d, tmp, [tmp], log)
        out["peer_marts"] = m.as_dict() | {"rows": m.result.get("mart_rows", {}).get("fct_student_daily_attendance", 0)}
    _rates(out)
    return dict(out)


def _rates(stages: dict) -> None:
    for r in stages.values():
        r["rows_per_s"] = round(r["rows"] / r["seconds"]) if r.get("seconds") else None


def _mart_rows(db: Path) -> dict:
    from bench.worker import _mart_rows as rows

    return rows(db)


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
    d, home, tmp = _stage_dir(root, "overhead_cli", Path(info["landing"]))
    cli = str(Path(sys.executable).parent / "kinvolved")
    log("  stage overhead: kinvolved ingest (tiny, one delivery) ...")
    m = run_measured("nightly_cli", [cli, "ingest", CUSTOMER],
                     env=base_env(tmp) | {"KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": info["config_dir"]},
                     cwd=REPO, log_file=d / "cli.log")
    _check(m, log)
    res["nightly_cli"] = m.as_dict()
    d, home, tmp = _stage_dir(root, "overhead_breakdown", Path(info["landing"]))
    m = _worker("nightly_breakdown", "dagster", {"config_dir": info["config_dir"], "customer": CUSTOMER,
                                                 "drops_json": info["drops_json"], "home": str(home)}, d, tmp, [], log)
    res["breakdown"] = m.as_dict()
    from kinvolved_assets.defs.marts import DBT_PROJECT_DIR, dbt_executable

    t = time.perf_counter()
    p = subprocess.run([dbt_executable(), "parse", "--no-partial-parse", "--project-dir", str(DBT_PROJECT_DIR),
                        "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(d / "parse-target"),
                        "--log-path", str(d / "logs"), "--quiet"], env=env, capture_output=True, check=False)
    res["dbt_parse_seconds"] = round(time.perf_counter() - t, 3)
    res["dbt_parse_ok"] = p.returncode == 0
    return res


def ratios(r: dict) -> dict:
    def div(a, b):
        return round(a / b, 2) if a is not None and b else None

    def s(name):
        return r.get(name, {}).get("seconds")

    def mem(name):
        return r.get(name, {}).get("peak_rss_mib")

    out = {
        "ingest_vs_limit_time": div(s("ingest"), s("limit")),
        "ingest_vs_limit_rss": div(mem("ingest"), mem("limit")),
        "ingest_vs_peer_load_time": div(s("ingest"), s("peer_load")),
        "ingest_vs_peer_load_rss": div(mem("ingest"), mem("peer_load")),
        "marts_vs_peer_marts_time": div(s("marts"), s("peer_marts")),
        "marts_vs_peer_marts_rss": div(mem("marts"), mem("peer_marts")),
    }
    if all(k in r for k in ("ingest", "expectations", "marts", "peer_load", "peer_marts")):
        ours = s("ingest") + s("expectations") + s("marts")
        peer = s("peer_load") + s("peer_marts")
        out["pipeline_vs_peer_time"] = div(ours, peer)
        out["pipeline_vs_peer_rss"] = div(max(mem("ingest"), mem("expectations"), mem("marts")),
                                          max(mem("peer_load"), mem("peer_marts")))
    if "dagster" in r and "peer_load" in r and "peer_marts" in r:
        out["dagster_vs_peer_time"] = div(s("dagster"), s("peer_load") + s("peer_marts"))
    if "dagster" in r and "limit" in r:
        out["dagster_vs_limit_time"] = div(s("dagster"), s("limit"))
    return out


def targets(scale: str, r: dict, q: dict, full_year: bool = True) -> dict:
    """Pass/fail of the issue's targets that this run can decide (backfill targets need the full year)."""
    t = {}
    if q.get("ingest_vs_limit_time") is not None:
        t["ingest_within_1.5x_limit"] = q["ingest_vs_limit_time"] <= 1.5
    if scale == "medium" and q.get("ingest_vs_peer_load_time") is not None:
        t["medium_faster_than_peer"] = q["ingest_vs_peer_load_time"] < 1.0
        t["medium_rss_at_most_third_of_peer"] = q["ingest_vs_peer_load_rss"] <= 1 / 3
    dag = r.get("dagster", {})
    # a run that failed or left the marts unbuilt meets no target, however fast it was
    completed = dag.get("returncode") == 0 and bool(dag.get("marts_success")) and not dag.get("failed_runs")
    if scale == "large" and dag and full_year:
        t["large_end_to_end_under_600s"] = completed and dag["seconds"] < 600
        t["large_peak_under_4GiB"] = completed and dag["peak_rss_mib"] < 4096
    if scale == "xl" and dag and full_year:
        t["xl_completes"] = completed
    return t


ORDER = ("ingest", "expectations", "marts", "dagster", "limit", "peer_load", "peer_marts")
LABELS = {
    "ingest": "ours: read+validate -> Parquet",
    "expectations": "ours: expectation suites",
    "marts": "ours: dbt build (marts)",
    "dagster": "ours: Dagster sensor -> marts",
    "limit": "limit: DuckDB read_csv -> tables",
    "peer_load": "peer: pandas read_csv -> DuckDB",
    "peer_marts": "peer: marts as plain SQL",
}


def table(res: dict) -> str:
    lines = [f"{'stage':36} {'seconds':>9} {'rows':>12} {'rows/s':>10} {'peak RSS MiB':>13} {'spill MiB':>10}"]
    for k in ORDER:
        if k in res:
            r = res[k]
            lines.append(f"{LABELS[k]:36} {r['seconds']:9.1f} {r['rows']:12,d} {r['rows_per_s'] or 0:10,d} "
                         f"{r['peak_rss_mib']:13.0f} {r['spill_mib']:10.0f}" + ("  FAILED" if r.get("returncode") else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--scale", default="small", help="tiny|small|medium|large|xl, or a comma list for the growth table")
    ap.add_argument("--days", type=int, default=None, help="calendar days from the start of the school year "
                    "(default: the full school year)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<scale>-<timestamp>.json)")
    ap.add_argument("--stages", default=",".join(ALL_STAGES), help=f"comma list of {', '.join(ALL_STAGES)}")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("KINVOLVED_BENCH_DIR", "/tmp/kv-bench/run")),
                    help="generated districts (cached) and stage folders")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads of the limit and the peer")
    ap.add_argument("--zip", action="store_true", help="deliver one ZIP per delivery instead of loose CSV folders "
                    "(our stages only: the limit and the peer read loose CSV)")
    args = ap.parse_args(argv)
    scales = [s.strip() for s in args.scale.split(",") if s.strip()]
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(ALL_STAGES)
    if unknown:
        ap.error(f"unknown stages: {', '.join(sorted(unknown))}")
    if args.zip and {"limit", "peer"} & set(stages):
        ap.error("--zip: the limit and the peer read loose CSV; leave them out of --stages")
    days = args.days or full_year_days()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    out = args.out or REPO / "bench" / "results" / f"{'+'.join(scales)}-{stamp}.json"
    report = {"command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
              "started": stamp, "host": {"cpus": os.cpu_count(), "mem_gib": _mem_gib(),
                                          "load_avg_at_start": os.getloadavg()},
              "days": days, "seed": args.seed, "scales": {}}

    def log(msg: str) -> None:
        print(msg, flush=True)

    for scale in scales:
        info = prepare_district(work, scale, days, args.seed, log, fmt="zip" if args.zip else "loose")
        log(f"== {scale}: {info['deliveries']} deliveries, {info['rows']:,} rows, {info['csv_mib']:.0f} MiB of CSV"
            + (f" in {info['landing_mib']:.0f} MiB of ZIPs" if info.get("format") == "zip" else "")
            + f" (generated in {info['generate_seconds']} s)")
        def saved(partial, scale=scale, info=info):
            _rates(partial)
            report["scales"][scale] = {"district": info, "stages": dict(partial), "partial": True}
            _write(out, report)

        res = run_scale(info, [s for s in stages if s not in ("overhead", "nightly")], args.threads, log, saved)
        q = ratios(res)
        entry = {"district": info, "stages": res, "ratios": q, "targets": targets(scale, res, q, days >= full_year_days())}
        report["scales"][scale] = entry
        if res:
            log(table(res))
        for k, v in (q.items() if res else ()):
            log(f"  ratio {k:32} {v}")
        for k, v in entry["targets"].items():
            log(f"  target {k:31} {'met' if v else 'NOT met'}")
        if "nightly" in stages:
            from bench.nightly import nightly_lines, nightly_stage

            entry["nightly"] = nightly_stage(info, CUSTOMER, _stage_dir, _link_tree, base_env, _check, log)
            _write(out, report)
            log("\n".join(nightly_lines(scale, entry["nightly"])))
    if "overhead" in stages:
        report["nightly_overhead"] = oh = fixed_overhead(work, args.seed, log)
        b = oh["breakdown"].get("breakdown_seconds", {})
        log(f"nightly run, tiny district, one delivery: `kinvolved ingest` {oh['nightly_cli']['seconds']:.1f} s "
            f"(peak {oh['nightly_cli']['peak_rss_mib']:.0f} MiB); interpreter start {oh['interpreter_start_seconds']:.2f} s, "
            f"dbt parse (no partial parse) {oh['dbt_parse_seconds']:.1f} s")
        log("  in-process breakdown: " + ", ".join(f"{k} {v:.2f} s" for k, v in b.items()))
    if len(report["scales"]) > 1:
        report["growth"] = growth(report["scales"])
        log("growth (Dagster sensor -> marts, and ingest):")
        for g in report["growth"]:
            log(f"  {g['scale']:7} rows {g['rows']:>12,}  dagster {g['dagster_seconds']}s "
                f"({g['dagster_us_per_row']} us/row)  ingest {g['ingest_seconds']}s ({g['ingest_us_per_row']} us/row)")
    _write(out, report)
    log(f"results: {out}")
    failed = [f"{sc}/{k}" for sc, e in report["scales"].items() for k, r in e["stages"].items() if r.get("returncode")]
    failed += [f"{sc}/nightly" for sc, e in report["scales"].items() if e.get("nightly", {}).get("returncode")]
    return 1 if failed else 0


def _write(out: Path, report: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    os.replace(tmp, out)


def growth(scales: dict) -> list[dict]:
    rows = []
    for scale, e in scales.items():
        n = e["district"]["rows"]
        dag = e["stages"].get("dagster", {}).get("seconds")
        ing = e["stages"].get("ingest", {}).get("seconds")
        rows.append({"scale": scale, "rows": n, "dagster_seconds": dag, "ingest_seconds": ing,
                     "dagster_us_per_row": round(dag / n * 1e6, 2) if dag else None,
                     "ingest_us_per_row": round(ing / n * 1e6, 2) if ing else None})
    return rows


def _mem_gib() -> float:
    with open("/proc/meminfo") as fh:
        return round(int(fh.readline().split()[1]) / 2**20, 1)
