"""Whether a customer's next marts build may start from its published marts (incremental) or must
rebuild from nothing, and why: the build plan, decided from the published file's build stamp.

A build stamps its file (table ``_kinvolved_build.stamp``, one row, no personal data) with what it was
built from: a digest of the dbt project and the dbt version, a digest of the customer's vars and
settings file, and every raw partition file (path below ``raw/``, size, mtime). The next build
compares that stamp with the state it finds. Only deliveries appended after the last build, none of
them a bulk, leave a published file that the next build may extend; everything else falls back to a
full build, with the reason:

- ``full_refresh`` asked for in the run config;
- no published marts, or a published file without a stamp;
- the dbt project or dbt changed; the customer's settings (vars, settings file) changed;
- a partition of the last build is gone or was rewritten (a re-ingest, a removal);
- a new delivery applies before the last build's latest one (a late, older delivery);
- a new delivery is a bulk (of any entity: its scope replaces state);
- a new delivery opens a school year (1 July - 30 June) later than the published build's latest;
- the published build holds no delivery at all.

An incremental plan carries ``after_key``, the published build's latest delivery as a delivery key
(``yyyymmdd * 10^9 + seq``, dbt_project/macros/current_state.sql): the incremental models take the
rows delivered after it (dbt_project/macros/incremental.sql).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kinvolved_assets.config_calendar import school_year_of
from kinvolved_assets.paths import SEQ_RE

STAMP_SCHEMA = "_kinvolved_build"
STAMP_TABLE = f"{STAMP_SCHEMA}.stamp"
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds", "contract")


@dataclass(frozen=True)
class BuildStamp:
    project: str                            # digest of the dbt project files and the dbt version
    settings: str                           # digest of the build's vars and settings file
    partitions: dict[str, tuple[int, int]]  # raw partition file (relative to raw/) -> (size, mtime_ns)

    def to_json(self) -> str:
        return json.dumps({"project": self.project, "settings": self.settings,
                           "partitions": {k: list(v) for k, v in sorted(self.partitions.items())}})

    @staticmethod
    def from_json(text: str) -> BuildStamp:
        data = json.loads(text)
        return BuildStamp(data["project"], data["settings"],
                          {k: (int(v[0]), int(v[1])) for k, v in data["partitions"].items()})


@dataclass(frozen=True)
class BuildPlan:
    incremental: bool
    reason: str                  # why full, or what the incremental build adds
    new_partitions: tuple[str, ...] = ()
    after_key: int = 0           # incremental: the published build's latest delivery, as a delivery key

    def line(self) -> str:
        return ("incremental: " if self.incremental else "full build: ") + self.reason


def project_digest(project_dir: Path) -> str:
    digest = hashlib.sha256(importlib.metadata.version("dbt-core").encode())
    files = [project_dir / "dbt_project.yml"]
    for folder in PROJECT_FOLDERS:
        files += [f for f in (project_dir / folder).rglob("*") if f.is_file()]
    for f in sorted(files):
        digest.update(str(f.relative_to(project_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def settings_digest(dbt_vars: dict, settings_file: Path) -> str:
    digest = hashlib.sha256(json.dumps(dbt_vars, sort_keys=True, default=str).encode())
    digest.update(settings_file.read_bytes() if settings_file.exists() else b"")
    return digest.hexdigest()


def raw_partitions(raw: Path) -> dict[str, tuple[int, int]]:
    if not raw.is_dir():
        return {}
    out = {}
    for f in raw.rglob("*.parquet"):
        st = f.stat()
        out[str(f.relative_to(raw))] = (st.st_size, st.st_mtime_ns)
    return out


def current_stamp(project_dir: Path, dbt_vars: dict, settings_file: Path, raw: Path) -> BuildStamp:
    return BuildStamp(project_digest(project_dir), settings_digest(dbt_vars, settings_file),
                      raw_partitions(raw))


def delivery_order(partition: str) -> tuple[str, int]:
    """(delivery date, seq) of a partition path ``<entity>/delivery_date=<D>/[seq=<N>/]part-0.parquet``
    (or below ``_files/``); a partition without ``seq=`` is sequence 0 of its date."""
    parts = Path(partition).parts
    day = next((p.split("=", 1)[1] for p in parts if p.startswith("delivery_date=")), "")
    seq = next((int(m.group(1)) for p in parts if (m := SEQ_RE.fullmatch(p))), 0)
    return day, seq


def delivery_key(order: tuple[str, int]) -> int:
    """(date, seq) as the dbt project's delivery key: yyyymmdd * 10^9 + seq."""
    return int(order[0].replace("-", "")) * 1_000_000_000 + order[1]


def write_stamp(build_file: Path, stamp: BuildStamp) -> None:
    with duckdb.connect(str(build_file)) as con:
        con.execute(f"create schema if not exists {STAMP_SCHEMA}")
        con.execute(f"create or replace table {STAMP_TABLE} as select ? as stamp", [stamp.to_json()])


def read_stamp(marts_db: Path) -> BuildStamp | None:
    try:
        with duckdb.connect(str(marts_db), read_only=True) as con:
            row = con.execute(f"select stamp from {STAMP_TABLE}").fetchone()
    except duckdb.Error:
        return None
    return BuildStamp.from_json(row[0]) if row else None


def _bulks(raw: Path, partitions: list[str]) -> list[str]:
    """The new ``_files`` partitions that record a bulk file."""
    files = [p for p in partitions if p.startswith("_files/")]
    if not files:
        return []
    with duckdb.connect() as con:
        rows = con.execute("select filename from read_parquet(?, filename = true) where mode = 'bulk'",
                           [[str(raw / p) for p in files]]).fetchall()
    return sorted({str(Path(r[0]).relative_to(raw)) for r in rows})


def plan_build(published: Path, current: BuildStamp, raw: Path, full_refresh: bool = False) -> BuildPlan:
    if full_refresh:
        return BuildPlan(False, "full_refresh requested in the run config")
    if not published.exists():
        return BuildPlan(False, "no published marts yet")
    previous = read_stamp(published)
    if previous is None:
        return BuildPlan(False, "the published marts carry no build stamp")
    if previous.project != current.project:
        return BuildPlan(False, "the dbt project (or dbt) changed since the published build")
    if previous.settings != current.settings:
        return BuildPlan(False, "the customer's settings changed since the published build")
    changed = [p for p, meta in previous.partitions.items() if current.partitions.get(p) != meta]
    if changed:
        return BuildPlan(False, f"{len(changed)} partition(s) of the published build were re-ingested "
                                f"or removed (first: {sorted(changed)[0]})")
    new = sorted(p for p in current.partitions if p not in previous.partitions)
    last = max((delivery_order(p) for p in previous.partitions), default=("", 0))
    older = [p for p in new if delivery_order(p) <= last]
    if older:
        return BuildPlan(False, f"{len(older)} new partition(s) apply before the published build's latest "
                                f"delivery {last[0]} #{last[1]} (first: {older[0]})")
    bulks = _bulks(raw, new)
    if bulks:
        return BuildPlan(False, f"a bulk arrived ({bulks[0].split('/')[1]} {delivery_order(bulks[0])[0]})")
    if not last[0]:
        return BuildPlan(False, "the published build holds no delivery")
    deliveries = sorted({delivery_order(p) for p in new})
    opens = [day for day, _ in deliveries
             if school_year_of(dt.date.fromisoformat(day)) > school_year_of(dt.date.fromisoformat(last[0]))]
    if opens:
        return BuildPlan(False, f"a new school year starts ({opens[0]}: school year "
                                f"{school_year_of(dt.date.fromisoformat(opens[0]))})")
    return BuildPlan(True, f"{len(deliveries)} delivery(ies) after {last[0]} #{last[1]}, no bulk",
                     tuple(new), delivery_key(last))
