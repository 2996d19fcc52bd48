"""The per-customer pull ledger and high-water marks, derived from the archive and raw layer.

``archive/<customer>/rest/pulls.jsonl`` gets one line per pull that became a delivery: its id,
delivery name and date, mode, the sha256 of every CSV file it wrote and, per entity, the latest
``dateLastModified`` it carried. A pull counts as *accepted* once every one of its files is in the
raw layer (``raw/_files/<entity>/delivery_date=<D>/seq=*`` holds a file with that sha256), i.e. the
delivery was ingested and promoted. The next pull on date D then is:
- full when asked, when no pull dated before D was accepted, or when a full pull already landed on D
  (kept from when a same-day delivery replaced that day's raw partitions: a full pull is a superset);
- otherwise a delta per entity since the latest accepted mark of a pull dated before D, minus
  ``overlap_minutes`` (records from the overlap arrive twice; the delta upserts them by key).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kinvolved_assets.paths import CustomerPaths, partition_files


def ledger_path(paths: CustomerPaths) -> Path:
    return paths.archive / "rest" / "pulls.jsonl"


def read_ledger(paths: CustomerPaths) -> list[dict]:
    path = ledger_path(paths)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue            # a line cut by a crash: that pull's delivery is pulled again
    return entries


def append_ledger(paths: CustomerPaths, entry: dict) -> None:
    path = ledger_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()


def accepted(paths: CustomerPaths, entry: dict) -> bool:
    files = entry.get("files") or {}
    if not files:
        return False
    con = duckdb.connect()
    try:
        for entity, sha in files.items():
            parts = [str(f) for day, _, f in partition_files(paths.raw / "_files" / entity)
                     if day == entry["delivery_date"]]
            if not parts:
                return False
            found = con.execute("select count(*) from read_parquet(?) where sha256 = ?",
                                [parts, sha]).fetchone()[0]
            if not found:
                return False
    finally:
        con.close()
    return True


@dataclass(frozen=True)
class PullPlan:
    mode: str                         # full | delta
    since: dict[str, str]             # entity -> ISO instant (delta only; entities without a mark pull all)
    reason: str


def plan_pull(paths: CustomerPaths, entities: list[str], delivery_date: dt.date, overlap_minutes: int,
              force_full: bool = False) -> PullPlan:
    ledger = read_ledger(paths)
    today = delivery_date.isoformat()
    if force_full:
        return PullPlan("full", {}, "asked for a full pull")
    if any(e["delivery_date"] == today and e["mode"] == "full" for e in ledger):
        return PullPlan("full", {}, f"a full pull already landed on {today}")
    earlier = [e for e in ledger if e["delivery_date"] < today and accepted(paths, e)]
    if not earlier:
        return PullPlan("full", {}, "no earlier pull was ingested")
    since = {}
    for entity in entities:
        marks = [e["high_water"][entity] for e in earlier if e.get("high_water", {}).get(entity)]
        if marks:
            mark = dt.datetime.fromisoformat(max(marks).replace("Z", "+00:00"))
            since[entity] = (mark - dt.timedelta(minutes=overlap_minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PullPlan("delta", since, f"changes since the pull of {max(e['delivery_date'] for e in earlier)}")
