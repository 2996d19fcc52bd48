"""``python -m bench``: the benchmark's command line; per scale, the district, the stages, the report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from bench.district import CUSTOMER, full_year_days, prepare_district
from bench.report import growth, mem_gib, rates, ratios, table, targets, write_report
from bench.stage_runs import REPO, base_env, check, link_tree, stage_dir
from bench.stages import ALL_STAGES, fixed_overhead, run_scale

DESCRIPTION = ("Benchmark orchestration: generate (cached) -> run each stage in its own measured process -> "
               "ratios.")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    ap.add_argument("--scale", default="small",
                    help="tiny|small|medium|large|xl, or a comma list for the growth table")
    ap.add_argument("--days", type=int, default=None, help="calendar days from the start of the school year "
                    "(default: the full school year)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default bench/results/<scale>-<timestamp>.json)")
    ap.add_argument("--stages", default=",".join(ALL_STAGES), help=f"comma list of {', '.join(ALL_STAGES)}")
    ap.add_argument("--work", type=Path,
                    default=Path(os.environ.get("KINVOLVED_BENCH_DIR", "/tmp/kv-bench/run")),
                    help="generated districts (cached) and stage folders")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads of the limit and the peer")
    ap.add_argument("--zip", action="store_true",
                    help="deliver one ZIP per delivery instead of loose CSV folders "
                    "(our stages only: the limit and the peer read loose CSV)")
    return ap


def _log(msg: str) -> None:
    print(msg, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
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
              "started": stamp, "host": {"cpus": os.cpu_count(), "mem_gib": mem_gib(),
                                          "load_avg_at_start": os.getloadavg()},
              "days": days, "seed": args.seed, "scales": {}}
    for scale in scales:
        _run_one_scale(scale, work, days, args, stages, report, out)
    if "overhead" in stages:
        _overhead(work, args.seed, report)
    if len(report["scales"]) > 1:
        report["growth"] = growth(report["scales"])
        _log("growth (Dagster sensor -> marts, and ingest):")
        for g in report["growth"]:
            _log(f"  {g['scale']:7} rows {g['rows']:>12,}  dagster {g['dagster_seconds']}s "
                 f"({g['dagster_us_per_row']} us/row)  ingest {g['ingest_seconds']}s "
                 f"({g['ingest_us_per_row']} us/row)")
    write_report(out, report)
    _log(f"results: {out}")
    failed = [f"{sc}/{k}" for sc, e in report["scales"].items() for k,
              r in e["stages"].items() if r.get("returncode")]
    failed += [f"{sc}/nightly" for sc,
               e in report["scales"].items() if e.get("nightly", {}).get("returncode")]
    return 1 if failed else 0


def _run_one_scale(scale: str, work: Path, days: int, args, stages: list[str], report: dict,
                   out: Path) -> None:
    """One scale: its district, the measured stages (saved after each), ratios, targets, the nightly stage."""
    log = _log
    info = prepare_district(work, scale, days, args.seed, log, fmt="zip" if args.zip else "loose")
    log(f"== {scale}: {info['deliveries']} deliveries, {info['rows']:,} rows, {info['csv_mib']:.0f} MiB of "
        "CSV"
        + (f" in {info['landing_mib']:.0f} MiB of ZIPs" if info.get("format") == "zip" else "")
        + f" (generated in {info['generate_seconds']} s)")

    def saved(partial, scale=scale, info=info):
        rates(partial)
        report["scales"][scale] = {"district": info, "stages": dict(partial), "partial": True}
        write_report(out, report)

    res = run_scale(info, [s for s in stages if s not in ("overhead", "nightly")], args.threads, log, saved)
    q = ratios(res)
    entry = {"district": info, "stages": res, "ratios": q,
             "targets": targets(scale, res, q, days >= full_year_days())}
    report["scales"][scale] = entry
    if res:
        log(table(res))
    for k, v in (q.items() if res else ()):
        log(f"  ratio {k:32} {v}")
    for k, v in entry["targets"].items():
        log(f"  target {k:31} {'met' if v else 'NOT met'}")
    if "nightly" in stages:
        from bench.nightly import nightly_lines, nightly_stage

        entry["nightly"] = nightly_stage(info, CUSTOMER, stage_dir, link_tree, base_env, check, log)
        write_report(out, report)
        log("\n".join(nightly_lines(scale, entry["nightly"])))


def _overhead(work: Path, seed: int, report: dict) -> None:
    report["nightly_overhead"] = oh = fixed_overhead(work, seed, _log)
    b = oh["breakdown"].get("breakdown_seconds", {})
    _log(f"nightly run, tiny district, one delivery: `kinvolved ingest` {oh['nightly_cli']['seconds']:.1f} s "
         f"(peak {oh['nightly_cli']['peak_rss_mib']:.0f} MiB); interpreter start "
         f"{oh['interpreter_start_seconds']:.2f} s, dbt parse (no partial parse) "
         f"{oh['dbt_parse_seconds']:.1f} s")
    _log("  in-process breakdown: " + ", ".join(f"{k} {v:.2f} s" for k, v in b.items()))
