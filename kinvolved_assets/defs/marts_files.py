"""The files of one marts build: the build database beside the published one, dbt's target,
the atomic swap, and what a failed build left behind (its mass-deletion audit, a full disk).

Layout under ``warehouse/<customer>/``: ``build/marts-<run_id>.duckdb`` (the build, 0700 folder),
``build/profile/marts_build.duckdb`` (the same file under the name dbt's profile gives it),
``build/target/`` (dbt's target folder of the build) and ``marts.duckdb`` (published).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from kinvolved_assets.diskspace import is_disk_full
from kinvolved_assets.permissions import FILE_MODE, private_dir

# The name dbt opens the build file by: the same in every build, so the database name DuckDB derives
# from it (the catalog of the marts' relations) does not change between builds.
DBT_BUILD_NAME = "profile/marts_build.duckdb"


def open_build_file(build_file: Path, start_from: Path | None = None) -> Path:
    """Create the build database, empty or as a copy of ``start_from`` (the published marts, for an
    incremental build), and its second, stable name for dbt (a hard link: one file)."""
    import duckdb

    if start_from is None:
        duckdb.connect(str(build_file)).close()
    else:
        shutil.copyfile(start_from, build_file)
        os.chmod(build_file, FILE_MODE)
    dbt_file = build_file.parent / DBT_BUILD_NAME
    private_dir(dbt_file.parent)
    dbt_file.unlink(missing_ok=True)
    os.link(build_file, dbt_file)
    return dbt_file


def fresh_target(build_dir: Path, legacy: Path) -> Path:
    """dbt's target folder of one build, inside the build folder (private, removed with it: nothing of
    one build is read as another's). ``legacy`` is the ``dbt_target/`` of builds that kept dbt's
    parse state between builds; removed."""
    shutil.rmtree(legacy, ignore_errors=True)
    return private_dir(build_dir / "target")


def publish_atomically(build_file: Path, published: Path) -> None:
    """Swap a finished build in: readers see the old file or the new one, never half of one."""
    for name in (build_file, build_file.parent / DBT_BUILD_NAME):
        if name.with_name(name.name + ".wal").exists():
            raise RuntimeError(f"build {build_file.name} still has a write-ahead log; refusing to publish")
    (build_file.parent / DBT_BUILD_NAME).unlink(missing_ok=True)   # no second name on the published file
    with open(build_file, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(build_file, published)


def mass_deletions(build_file: Path, fraction: float, min_records: int = 1) -> list[dict]:
    """Bulks over the mass-deletion limit, read from a (failed) build's audit table: counts only."""
    if not build_file.exists():
        return []
    import duckdb

    try:
        with duckdb.connect(str(build_file), read_only=True) as con:
            rows = con.execute(
                "select entity, cast(delivery_date as varchar), would_delete, active_before "
                "from intermediate.int_bulk_deliveries__audited "
                "where active_before > 0 and would_delete > ? * active_before and would_delete >= ? "
                "order by entity", [fraction, min_records],
            ).fetchall()
    except duckdb.Error:
        return []
    return [{"entity": e, "delivery_date": d, "would_delete": int(w), "active_before": int(a)}
            for e, d, w, a in rows]


def disk_was_full(run_results: Path) -> bool:
    try:
        results = json.loads(run_results.read_text()).get("results", [])
    except (OSError, ValueError):
        return False
    return any(is_disk_full(OSError(str(r.get("message") or ""))) for r in results)
