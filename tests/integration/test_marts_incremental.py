"""Incremental marts equal a full rebuild (docs/operations.md, "Marts build plan").

Deliveries land one at a time through real nightly runs (ingest + marts build): the initial bulk, a
delta with retroactive corrections and deletions, the monthly bulk of 1 October, more deltas, then a
delta of absenceCodes.csv alone that turns an excused code unexcused (a code flip: every past event
with that code changes meaning). After every incremental build, the published marts are set aside, a
``full_refresh`` build (``kinvolved ingest --full-refresh``) is run on the same raw partitions and
its marts digest, and that of the intermediate tables published with them, must equal the
incremental ones; the incremental file is then put back, so the
next delivery extends a chain of incremental builds, as in production. Every build records its plan
in its materializations: why it had to be full (the first build, the monthly bulk, full_refresh) or
which deliveries it added; a build with nothing new is incremental and publishes the same marts.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil

import duckdb
import pytest
from dagster import AssetKey

from kinvolved_assets.local_runner import process_landing, run_marts
from kinvolved_assets.marts.reader import content_digest, mart_counts, open_marts
from kinvolved_assets.paths import CustomerPaths

pytestmark = pytest.mark.integration

FLIP_DAY = "20251007"
FLIP_MANIFEST = """propertyName,value
manifest.version,1.0
oneroster.version,1.1
source.systemName,Kinvolved Synthetic SIS
file.orgs,absent
file.academicSessions,absent
file.courses,absent
file.classes,absent
file.users,absent
file.enrollments,absent
file.demographics,absent
file.absenceCodes,delta
file.attendance,absent
"""
FLIP_CODES = ("sourcedId,status,dateLastModified,title,absent,excused,description,schoolSourcedId,category,"
              "dayFraction\n"
              """abs-d-ae,active,2025-10-07T22:00:00Z,AE,true,false,Absent - excused,,unexcused_absence,1
""")


def _plan_of_last_build(instance) -> str:
    event = instance.get_latest_materialization_event(AssetKey(["marts", "fct_student_daily_attendance"]))
    return event.asset_materialization.metadata["marts_build_plan"].value


def _poison_orgs(marts_db) -> int:
    """Mark every published org row (no delta of this district touches orgs): a build that extends the
    published tables keeps the mark, a rebuild from nothing does not."""
    with duckdb.connect(str(marts_db)) as con:
        con.execute("update intermediate.int_orgs__merged_by_year set _line = -7")
        return con.execute("select count(*) from intermediate.int_orgs__merged_by_year").fetchone()[0]


def _marked_orgs(marts_db) -> int:
    with duckdb.connect(str(marts_db), read_only=True) as con:
        return con.execute("select count(*) from intermediate.int_orgs__merged_by_year "
                           "where _line = -7").fetchone()[0]


def _code_flip(folder) -> None:
    folder.mkdir()
    (folder / "manifest.csv").write_text(FLIP_MANIFEST)
    (folder / "absenceCodes.csv").write_text(FLIP_CODES)


def _state_digest(marts_db, skip: tuple[str, ...] = ()) -> str:
    """The marts digest and every intermediate table's rows but ``skip`` (the current state the marts
    come from, published in the same file: users with their effective roles, the rosters by year, …)."""
    import hashlib

    digest = hashlib.sha256(content_digest(marts_db).encode())
    with open_marts(marts_db) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'intermediate' "
            "and table_type = 'BASE TABLE' order by 1").fetchall()]
        for table in (t for t in tables if t not in skip):
            rows = con.execute(f"select * from intermediate.{table} order by all").fetchall()
            digest.update(table.encode())
            digest.update(repr(rows).encode())
    return digest.hexdigest()


def test_incremental_builds_equal_a_full_rebuild_after_every_delivery(platform, instance):
    gen = platform.add_customer("acme", start=dt.date(2025, 9, 29), days=8, fmt="loose")
    deliveries = sorted(gen.deliveries, key=lambda d: d.delivery_date)
    assert [d.mode for d in deliveries] == ["bulk", "delta", "bulk", "delta", "delta", "delta"]
    held = platform.home / "held"
    held.mkdir()
    names = []
    for delivery in deliveries:
        shutil.move(delivery.path, held / delivery.path.name)
        names.append(delivery.path.name)
    _code_flip(held / f"acme_{FLIP_DAY}")
    names.append(f"acme_{FLIP_DAY}")
    defs = platform.definitions()
    paths = CustomerPaths.for_customer("acme", platform.home)

    plans, compared = [], 0
    for name in names:
        marked = _poison_orgs(paths.marts_db) if name.endswith(FLIP_DAY) else None
        shutil.copytree(held / name, paths.landing / name)
        report = process_landing(defs, instance, "acme")
        assert report.marts_run and report.marts_run[1], name
        plan = _plan_of_last_build(instance)
        plans.append(plan)
        if not plan.startswith("incremental: "):
            continue
        if marked is not None:   # the flip's build extended the published tables
            assert marked > 0 and _marked_orgs(paths.marts_db) == marked
        poisoned = ("int_orgs__merged_by_year",) if marked is not None else ()
        incremental = content_digest(paths.marts_db), _state_digest(paths.marts_db, poisoned)
        kept = platform.home / "incremental.duckdb"
        shutil.copy2(paths.marts_db, kept)
        # what `kinvolved ingest acme --full-refresh` does: nothing new to ingest, the marts rebuilt
        rebuilt = process_landing(defs, instance, "acme", full_refresh=True)
        assert not rebuilt.ingest_runs and rebuilt.marts_run and rebuilt.marts_run[1]
        assert _plan_of_last_build(instance) == "full build: full_refresh requested in the run config"
        assert _marked_orgs(paths.marts_db) == 0
        assert content_digest(paths.marts_db) == incremental[0], (name, plan)
        assert _state_digest(paths.marts_db, poisoned) == incremental[1], ("intermediate tables", name, plan)
        compared += 1
        os.replace(kept, paths.marts_db)   # the chain goes on from the incremental build

    assert [p.split(":")[0] for p in plans] == [
        "full build", "incremental", "full build", "incremental", "incremental", "incremental", "incremental"]
    # the ledger's arrival sequences (#N) are its own; the dates are the deliveries'
    one_delivery = r"incremental: 1 delivery\(ies\) after {} #[0-9]+, no bulk"
    assert plans[0] == "full build: no published marts yet"
    assert re.fullmatch(one_delivery.format("2025-09-29"), plans[1]), plans
    assert plans[2].startswith("full build: a bulk arrived ("), plans
    assert re.fullmatch(one_delivery.format("2025-10-01"), plans[3]), plans
    assert re.fullmatch(one_delivery.format("2025-10-06"), plans[6]), plans
    assert compared == 5
    # a build with nothing new: incremental over no delivery, the same marts
    published = content_digest(paths.marts_db)
    assert run_marts(defs, instance, "acme").success
    assert re.fullmatch(r"incremental: 0 delivery\(ies\) after 2025-10-07 #[0-9]+, no bulk",
                        _plan_of_last_build(instance))
    assert content_digest(paths.marts_db) == published
    # nothing lost: every delivery has its raw partition and its archive copy, and the marts hold rows
    dates = sorted(name.split("_")[1] for name in names)
    delivered = sorted(p.name.split("=")[1].replace("-", "")
                       for p in (paths.raw / "_files").glob("*/delivery_date=*"))
    assert sorted(set(delivered)) == dates
    assert sorted(p.name.replace("-", "") for p in paths.archive.iterdir()) == dates
    counts = mart_counts(paths.marts_db)
    assert counts["fct_student_daily_attendance"] > 0 and counts["fct_enrollments"] > 0
    # the flip reached the marts: no day is excused by code AE any more
    with open_marts(paths.marts_db) as con:
        flipped = con.execute("select count(*) filter (where is_excused), count(*) from "
                              "fct_student_daily_attendance where absence_code = 'AE'").fetchone()
    assert flipped[1] > 0 and flipped[0] == 0, flipped
