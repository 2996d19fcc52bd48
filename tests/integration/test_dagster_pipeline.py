"""Real Dagster: definitions, sensor ticks against real folders, materializations, idempotency,
isolation between customers, onboarding, and a snapshot of the asset specs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, Definitions

from kinvolved_assets.defs.keys import raw_asset_key
from kinvolved_assets.local_runner import process_landing, run_ingest, tick_delivery_sensor
from kinvolved_assets.marts.reader import open_marts
from kinvolved_assets.oneroster.spec import ENTITIES
from tests.districts import latest_cumulative

pytestmark = pytest.mark.integration
SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def parquet_digest(path: Path) -> str:
    """Content hash of a Parquet file independent of row order and file layout."""
    con = duckdb.connect()
    rows = con.execute(f"select * from read_parquet('{path}') order by all").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def asset_spec_snapshot(defs: Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        out[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": type(partitions).__name__ if partitions else None,
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return out


def _one_part(entity_dir, date: str):
    """The Parquet file of the one delivery of ``date`` (``delivery_date=<D>/seq=<N>/``)."""
    found = sorted(entity_dir.glob(f"delivery_date={date}/seq=*/part-0.parquet"))
    assert len(found) == 1, found
    return found[0]


def test_definitions_load_and_asset_specs_match_snapshot(platform):
    platform.add_customer("demo", generate_deliveries=False)
    defs = platform.definitions()
    Definitions.validate_loadable(defs)
    snapshot = asset_spec_snapshot(defs)
    for entity in ENTITIES:
        assert f"oneroster/{entity.name}" in snapshot
        assert snapshot[f"oneroster/{entity.name}"]["partitions"] == "MultiPartitionsDefinition"
    # lineage from file to mart: staging models depend on the raw assets
    assert "oneroster/attendance" in snapshot["staging/stg_oneroster__attendance"]["deps"]
    assert snapshot["marts/msr_student_cumulative_attendance"]["partitions"] == "StaticPartitionsDefinition"
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    assert snapshot == json.loads(SNAPSHOT.read_text()), (
        "asset specs changed: rerun with UPDATE_SNAPSHOTS=1 and review")


def test_sensor_materialize_every_asset_and_rematerialize_idempotently(platform, instance: DagsterInstance):
    platform.add_customer("acme", days=3)
    defs = platform.definitions()

    first = tick_delivery_sensor(defs, instance, "acme")
    assert len(first.run_requests) == len(platform.generated["acme"].deliveries) == 3
    assert tick_delivery_sensor(defs, instance, "acme").run_requests == [], "same deliveries → no new runs"

    request = sorted(first.run_requests, key=lambda r: r.partition_key.keys_by_dimension["date"])[0]
    result = run_ingest(defs, instance, request.partition_key, request.run_config, dict(request.tags))
    assert result.success
    date = request.partition_key.keys_by_dimension["date"]
    wh = platform.warehouse("acme")
    for entity in ENTITIES:
        materialization = instance.get_latest_materialization_event(raw_asset_key(entity.name))
        assert materialization is not None, entity.name
        meta = materialization.asset_materialization.metadata
        assert meta["mode"].value == "bulk"
        part = _one_part(wh / "raw" / entity.name, date)
        assert part.exists(), part
        assert meta["rows"].value == duckdb.connect().execute(f"select count(*) from '{part}'").fetchone()[0]
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks)
    archived = list((platform.home / "archive" / "acme" / date).glob("*.zip"))
    assert len(archived) == 1 and archived[0].with_name(archived[0].name + ".sha256").exists()

    before = {e.name: parquet_digest(_one_part(wh / "raw" / e.name, date))
              for e in ENTITIES}
    again = run_ingest(defs, instance, request.partition_key)  # UI-style: no run config, from the archive
    assert again.success
    after = {e.name: parquet_digest(_one_part(wh / "raw" / e.name, date))
             for e in ENTITIES}
    assert before == after
    assert len(list((platform.home / "archive" / "acme" / date).glob("*.zip"))) == 1


def test_missing_file_never_erases_state(platform, instance):
    platform.add_customer("acme", days=3)
    defs = platform.definitions()
    report = process_landing(defs, instance, "acme", build_marts=False)
    assert [ok for *_, ok in report.ingest_runs] == [True, True, True]
    dates = sorted(d for d, *_ in report.ingest_runs)
    # deltas that did not carry a file leave no partition for it, and the bulk partition stays
    orgs = sorted(p.name for p in (platform.warehouse("acme") / "raw" / "orgs").iterdir())
    assert f"delivery_date={dates[0]}" in orgs


def test_two_customers_with_colliding_ids_are_isolated(platform, instance):
    platform.add_customer("alpha", seed=1, days=3)
    platform.add_customer("beta", seed=2, days=3)
    defs = platform.definitions()
    for customer in ("alpha", "beta"):
        report = process_landing(defs, instance, customer)
        assert report.marts_run and report.marts_run[1], customer
    marts = {c: open_marts(platform.warehouse(c) / "marts.duckdb") for c in ("alpha", "beta")}
    ids = {c: {r[0] for r in con.execute("select school_sourced_id from dim_schools").fetchall()}
           for c, con in marts.items()}
    assert ids["alpha"] == ids["beta"], "the generator reuses sourcedIds across customers"
    for customer, other in (("alpha", "beta"), ("beta", "alpha")):
        con = marts[customer]
        views = " ".join(r[0] or "" for r in con.execute("select sql from duckdb_views() where not "
                                                         "internal").fetchall())
        assert f"/warehouse/{customer}/raw" in views and f"/warehouse/{other}/" not in views
        got, truth = latest_cumulative(con, platform.home, customer)
        assert got == truth, customer
    assert marts["alpha"].execute("select sum(days_absent) from "
                                  "msr_student_cumulative_attendance").fetchone() != \
        marts["beta"].execute("select sum(days_absent) from msr_student_cumulative_attendance").fetchone()


def test_onboarding_prints_schools_and_codes(platform, capsys):
    from kinvolved_assets.cli.main import main

    platform.add_customer("newdistrict", generate_deliveries=False, licensed_schools=[])
    from kinvolved_assets.generator.generate import generate

    deliveries_dir = platform.home.parent / "incoming"
    gen = generate("newdistrict", "small", 3, __import__("datetime").date(2025, 8, 25), 1, deliveries_dir,
                   school_year=2026)
    code = main(["onboard", "newdistrict", str(gen.deliveries[0].path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Schools found (5):" in out
    for i in range(1, 6):
        assert f"org-sch-{i:04d}" in out
    assert "licensed_schools:" in out and "  - org-sch-0001" in out
    assert "Absence codes" in out and "AE" in out
    raw = platform.warehouse("newdistrict") / "raw"
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith("_")) == ["absence_codes", "orgs"]


def test_blocked_delivery_keeps_previous_marts_and_triggers_no_build(platform, instance):
    import zipfile

    from dagster import DagsterEventType, build_run_status_sensor_context

    from kinvolved_assets.marts.reader import content_digest

    platform.add_customer("acme", days=1)
    defs = platform.definitions()
    report = process_landing(defs, instance, "acme")
    assert report.marts_run and report.marts_run[1]
    marts_db = platform.warehouse("acme") / "marts.duckdb"
    before = content_digest(marts_db)

    # the marts trigger turns a successful ingest run into one marts run for that customer
    ok_run = instance.get_run_by_id(report.ingest_runs[0][1])
    success_event = instance.get_records_for_run(ok_run.run_id,
                                                 of_type=DagsterEventType.RUN_SUCCESS).records[0].event_log_entry
    trigger = defs.resolve_sensor_def("marts_after_delivery")
    ctx = build_run_status_sensor_context(sensor_name="marts_after_delivery",
                                          dagster_event=success_event.dagster_event,
                                          dagster_instance=instance, dagster_run=ok_run)
    request = trigger(ctx)
    assert request.partition_key == "acme" and request.run_key == f"marts-after-{ok_run.run_id}"

    # a later delivery whose attendance file lost a required column is blocked as a whole
    source = platform.generated["acme"].deliveries[0].path
    bad = platform.landing("acme") / "acme_20250826.zip"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item).decode("utf-8")
            if item.endswith("attendance.csv"):
                lines = [",".join(cell for i,
                                  cell in enumerate(line.split(",")) if i != 5) for line in data.splitlines()]
                data = "\n".join(lines) + "\n"
            zout.writestr(item, data)
    report = process_landing(defs, instance, "acme")
    assert [ok for *_, ok in report.ingest_runs] == [False]
    assert report.marts_run is None
    assert content_digest(marts_db) == before
    assert not (platform.warehouse("acme") / "raw" / "orgs" / "delivery_date=2025-08-26").exists()
    quarantined = list((platform.warehouse("acme") / "quarantine" / "2025-08-26").iterdir())
    assert len(quarantined) == 1
    failed = instance.get_run_by_id(report.ingest_runs[0][1])
    records = instance.get_records_for_run(failed.run_id,
                                           of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    outcomes = {(r.event_log_entry.dagster_event.event_specific_data.asset_key.path[-1],
                 r.event_log_entry.dagster_event.event_specific_data.check_name):
                r.event_log_entry.dagster_event.event_specific_data.passed for r in records}
    assert outcomes[("attendance", "contract")] is False
    assert outcomes[("orgs", "contract")] is True
