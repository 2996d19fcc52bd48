"""The benchmark's report: rows per second, the ratios to the DuckDB limit and the pandas peer, the
issue's targets, the stage table, the growth over scales, and the JSON written after every stage."""

from __future__ import annotations

import json
import os
from pathlib import Path


def rates(stages: dict) -> None:
    for r in stages.values():
        r["rows_per_s"] = round(r["rows"] / r["seconds"]) if r.get("seconds") else None


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
    lines = [f"{'stage':36} {'seconds':>9} {'rows':>12} {'rows/s':>10} {'peak RSS MiB':>13} "
             f"{'spill MiB':>10}"]
    for k in ORDER:
        if k in res:
            r = res[k]
            lines.append(f"{LABELS[k]:36} {r['seconds']:9.1f} {r['rows']:12,d} {r['rows_per_s'] or 0:10,d} "
                         f"{r['peak_rss_mib']:13.0f} "
                         f"{r['spill_mib']:10.0f}" + ("  FAILED" if r.get("returncode") else ""))
    return "\n".join(lines)


def write_report(out: Path, report: dict) -> None:
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


def mem_gib() -> float:
    with open("/proc/meminfo") as fh:
        return round(int(fh.readline().split()[1]) / 2**20, 1)
