"""A backfill builds the marts once (issue 15, case 7): the marts trigger waits for the backfill's
last run instead of queueing a build after every partition. Real ingest runs of a real asset
backfill's partitions on a Dagster instance; the trigger evaluated on each run's success event."""

from __future__ import annotations

import time

import pytest

from kinvolved_assets.defs.keys import raw_asset_key
from kinvolved_assets.defs.partitions import delivery_key
from kinvolved_assets.ingest import ENTITY_NAMES
from kinvolved_assets.local_runner import run_ingest

pytestmark = pytest.mark.integration


def _trigger(defs, instance, run_id):
    from dagster import DagsterEventType, build_run_status_sensor_context

    run = instance.get_run_by_id(run_id)
    success = instance.get_records_for_run(run_id,
                                           of_type=DagsterEventType.RUN_SUCCESS).records[0].event_log_entry
    ctx = build_run_status_sensor_context(sensor_name="marts_after_delivery",
                                          dagster_event=success.dagster_event,
                                          dagster_instance=instance, dagster_run=run)
    return defs.resolve_sensor_def("marts_after_delivery")(ctx)


def test_asset_backfill_of_two_dates_requests_one_marts_build(platform, instance):
    from dagster import SkipReason
    from dagster._core.execution.backfill import PartitionBackfill

    generated = platform.add_customer("acme", days=2)
    dates = sorted(d.delivery_date.isoformat() for d in generated.drops)
    defs = platform.definitions()
    keys = [delivery_key("acme", d) for d in dates]
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="bf-two", asset_graph=defs.resolve_asset_graph(), partition_names=[str(k) for k in keys],
        asset_selection=[raw_asset_key(e) for e in ENTITY_NAMES], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None)
    instance.add_backfill(backfill)
    tags = {"dagster/backfill": "bf-two", "kinvolved/customer": "acme"}

    first = run_ingest(defs, instance, keys[0], tags=tags)
    assert first.success
    waiting = _trigger(defs, instance, first.run_id)
    assert isinstance(waiting, SkipReason), waiting
    assert "backfill bf-two (1 of 2 partitions submitted)" in waiting.skip_message, waiting.skip_message

    second = run_ingest(defs, instance, keys[1], tags=tags)
    assert second.success
    request = _trigger(defs, instance, second.run_id)
    assert request.partition_key == "acme" and request.run_key == "marts-after-backfill-bf-two-acme"
    # the first run's event seen again (a sensor restart) asks for the same build: deduplicated by run key
    assert _trigger(defs, instance, first.run_id).run_key == request.run_key


def test_partition_run_replays_every_accepted_delivery_of_its_date_in_arrival_order(platform, instance):
    """A UI materialization (or backfill run) of a date with a nightly and its correction replays both,
    nightly first; the correction stays the one in force."""
    import csv
    import io
    import sqlite3
    import zipfile

    from dagster import DagsterEventType

    from kinvolved_assets.local_runner import process_landing

    generated = platform.add_customer("acme", days=1)
    nightly = generated.drops[0].path
    date = generated.drops[0].delivery_date.isoformat()
    defs = platform.definitions()
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] == [True]
    correction = nightly.with_name(nightly.stem + "_correction.zip")
    with zipfile.ZipFile(nightly) as zin, zipfile.ZipFile(correction, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name).decode()
            if name.endswith("orgs.csv"):
                rows = list(csv.DictReader(io.StringIO(data)))
                for row in rows:
                    row["name"] = row["name"] + " (corrected)" if row["type"] == "school" else row["name"]
                out = io.StringIO()
                writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
                data = out.getvalue()
            zout.writestr(name, data)
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] == [True]

    replay = run_ingest(defs, instance, delivery_key("acme", date))   # the UI's Materialize, no run config
    assert replay.success
    ledger = platform.warehouse("acme") / "ledger.sqlite"
    with sqlite3.connect(ledger) as con:
        rows = con.execute("select seq, file_name, state, attempts from deliveries order by seq").fetchall()
    assert [r[1:] for r in rows] == [(nightly.name, "ingested", 2), (correction.name, "ingested", 2)], rows
    events = instance.get_records_for_run(replay.run_id,
                                          of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    orgs = [r for r in events if r.event_log_entry.dagster_event.event_specific_data.materialization.asset_key
            == raw_asset_key("orgs")]
    drops = [r.event_log_entry.dagster_event.event_specific_data.materialization.metadata["drop"].value for r
             in orgs]
    assert len(drops) == 2 and drops[0] != drops[1], drops
    assert sorted((platform.warehouse("acme") / "raw" / "orgs" / f"delivery_date={date}").iterdir()) == [
        platform.warehouse("acme") / "raw" / "orgs" / f"delivery_date={date}" / f"seq={r[0]}" for r in rows]
