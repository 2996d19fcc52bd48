"""The ``nightly`` stage: the last nightly deliveries of the generated year, one ``kinvolved ingest`` each.

Everything delivered before them is ingested first (one ``kinvolved ingest``: a backlog run when the
tick finds ``KINVOLVED_BACKLOG_MIN_DELIVERIES`` or more deliveries, then one marts build), untimed; then
each of the last ``count`` deliveries is copied into the landing folder and ingested by its own
``kinvolved ingest`` process, as cron runs it every night (sensor tick, one ingest run, the marts
build: incremental when the build plan allows it), timed one by one; then one ``kinvolved ingest
--full-refresh`` rebuilds the same year's marts from nothing, the reference of the nightly / full
ratio. The fleet projection is how many districts of this size one machine
ingests one after another in a nightly window of ``WINDOW_HOURS`` at the median measured cost.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

from bench.measure import run_measured

NIGHTLY_COUNT = 10
WINDOW_HOURS = 8


def nightly_stage(info: dict, customer: str, stage_dir, link_tree, base_env, check, log=print,
                  count: int = NIGHTLY_COUNT) -> dict:
    deliveries = sorted(json.loads(Path(info["deliveries_json"]).read_text()), key=lambda d: (d["date"],
                                                                                              d["name"]))
    if len(deliveries) < 2:
        return {"returncode": 1, "error": "the nightly stage needs at least two deliveries (use more --days)"}
    held = deliveries[-min(count, len(deliveries) - 1):]
    d, home, tmp = stage_dir(Path(info["root"]), "nightly", None)
    landing, source = home / "landing" / customer, Path(info["landing"])
    landing.mkdir(parents=True)
    def deliver(delivery: dict) -> None:   # a loose CSV folder, or a ZIP with --zip
        src = source / delivery["name"]
        if src.is_file():
            shutil.copy2(src, landing / delivery["name"])
        else:
            link_tree(src, landing / delivery["name"])

    for delivery in deliveries[:-len(held)]:
        deliver(delivery)
    cli = str(Path(sys.executable).parent / "kinvolved")
    env = base_env(tmp) | {"KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": info["config_dir"]}
    log(f"  stage nightly: ingesting the first {len(deliveries) - len(held)} deliveries (untimed) ...")
    history = run_measured("nightly_history", [cli, "ingest", customer], env=env, cwd=d,
                           log_file=d / "history.log")
    check(history, log)
    out = {"history": history.as_dict(), "deliveries": []}
    if history.returncode:
        return {**out, "returncode": history.returncode}
    for delivery in held:
        deliver(delivery)
        m = run_measured(f"nightly {delivery['date']}", [cli, "ingest", customer], env=env, cwd=d,
                         log_file=d / f"nightly-{delivery['date']}.log")
        check(m, log)
        out["deliveries"].append({"date": delivery["date"], "mode": sorted(set(delivery["modes"].values())),
                                  "rows": delivery["rows"], **m.as_dict()})
        if m.returncode:
            return {**out, "returncode": m.returncode}
    seconds = [r["seconds"] for r in out["deliveries"]]
    median = statistics.median(seconds)
    # the same year's marts rebuilt from nothing (what every nightly cost before incremental builds)
    full = run_measured("nightly_full_refresh", [cli, "ingest", customer, "--full-refresh"], env=env, cwd=d,
                        log_file=d / "full-refresh.log")
    check(full, log)
    out["full_refresh"] = full.as_dict()
    out.update(returncode=0, count=len(seconds), median_seconds=round(median, 2), min_seconds=min(seconds),
               max_seconds=max(seconds), peak_rss_mib=max(r["peak_rss_mib"] for r in out["deliveries"]),
               window_hours=WINDOW_HOURS, nightly_to_full=round(median / full.seconds, 3),
               districts_per_machine_per_night=int(WINDOW_HOURS * 3600 // median) if median else None)
    return out


def nightly_lines(scale: str, res: dict) -> list[str]:
    if res.get("returncode"):
        return [f"nightly ({scale}): FAILED ({res.get('error') or 'see the stage logs'})"]
    lines = [f"nightly ({scale}): last {res['count']} deliveries, `kinvolved ingest` each: median "
             f"{res['median_seconds']:.1f} s (min {res['min_seconds']:.1f}, max {res['max_seconds']:.1f}), "
             f"peak {res['peak_rss_mib']:.0f} MiB"]
    lines += [f"  {r['date']}  {r['seconds']:6.1f} s  {r['peak_rss_mib']:5.0f} MiB  {'/'.join(r['mode'])}"
              for r in res["deliveries"]]
    full = res.get("full_refresh")
    if full:
        lines.append(f"  full rebuild (`kinvolved ingest --full-refresh`, nothing new): "
                     f"{full['seconds']:.1f} s, "
                     f"peak {full['peak_rss_mib']:.0f} MiB; median nightly / full rebuild = "
                     f"{res['nightly_to_full']:.2f}")
    lines.append(f"fleet projection ({scale}): {res['districts_per_machine_per_night']} districts per "
                 f"machine in a {res['window_hours']} h night, one after another, at the median nightly cost")
    return lines
