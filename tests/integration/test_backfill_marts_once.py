"""A backfill builds the marts once (issue 15, case 7): the marts trigger waits for the backfill's
last run instead of queueing a build after every partition. Real ingest runs of a real asset
backfill's partitions on a Dagster instance; the trigger evaluated on each run's success event."""

from __future__ import annotations

import time

import pytest

from kinvolved_assets.defs.keys import raw_asset_key
from kinvolved_assets.defs.partitions import delivery_key
from kinvolved_assets.delivery.ingest import ENTITY_NAMES
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
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
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
    nightly = generated.deliveries[0].path
    date = generated.deliveries[0].delivery_date.isoformat()
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
    deliveries = [r.event_log_entry.dagster_event.event_specific_data.materialization.metadata[
                      "delivery_file"].value for r in orgs]
    assert len(deliveries) == 2 and deliveries[0] != deliveries[1], deliveries
    assert sorted((platform.warehouse("acme") / "raw" / "orgs" / f"delivery_date={date}").iterdir()) == [
        platform.warehouse("acme") / "raw" / "orgs" / f"delivery_date={date}" / f"seq={r[0]}" for r in rows]


def _block(delivery_path) -> None:
    """The delivery's attendance file loses a required column: the delivery is blocked as a whole."""
    import zipfile

    broken = delivery_path.with_suffix(".tmp")
    with zipfile.ZipFile(delivery_path) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item).decode("utf-8")
            if item.endswith("attendance.csv"):
                data = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 5)
                                 for line in data.splitlines()) + "\n"
            zout.writestr(item, data)
    broken.replace(delivery_path)


def _failed_trigger(defs, instance, run_id):
    from dagster import DagsterEventType, build_run_status_sensor_context

    run = instance.get_run_by_id(run_id)
    failure = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.RUN_FAILURE).records[0].event_log_entry
    ctx = build_run_status_sensor_context(sensor_name="marts_after_failed_run",
                                          dagster_event=failure.dagster_event,
                                          dagster_instance=instance, dagster_run=run)
    return defs.resolve_sensor_def("marts_after_failed_run")(ctx)


def _asset_backfill(defs, instance, backfill_id, keys):
    from dagster._core.execution.backfill import PartitionBackfill

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(),
        partition_names=[str(k) for k in keys],
        asset_selection=[raw_asset_key(e) for e in ENTITY_NAMES], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None)
    instance.add_backfill(backfill)
    return {"dagster/backfill": backfill_id, "kinvolved/customer": "acme"}


def test_backfill_whose_last_run_is_blocked_builds_the_marts_once(platform, instance):
    from dagster import RunRequest, SkipReason

    from kinvolved_assets.local_runner import run_marts

    generated = platform.add_customer("acme", days=2)
    deliveries = sorted(generated.deliveries, key=lambda d: d.delivery_date)
    _block(deliveries[1].path)
    defs = platform.definitions()
    keys = [delivery_key("acme", d.delivery_date.isoformat()) for d in deliveries]
    tags = _asset_backfill(defs, instance, "bf-last-blocked", keys)

    first = run_ingest(defs, instance, keys[0], tags=tags)
    assert first.success
    # its second partition still to come
    assert isinstance(_trigger(defs, instance, first.run_id), SkipReason)
    last = run_ingest(defs, instance, keys[1], tags=tags)
    assert not last.success                                                  # blocked by validation
    request = _failed_trigger(defs, instance, last.run_id)
    assert isinstance(request, RunRequest), request
    assert request.partition_key == "acme" and request.run_key == "marts-after-backfill-bf-last-blocked-acme"
    assert request.tags["kinvolved/after_backfill"] == "bf-last-blocked"

    # the build runs; the first run's success seen again (a sensor restart) asks for no second build
    marts = run_marts(defs, instance, "acme", tags=request.tags)
    assert marts.success and (platform.warehouse("acme") / "marts.duckdb").exists()
    again = _trigger(defs, instance, first.run_id)
    assert isinstance(again, SkipReason) and "already requested" in again.skip_message, again


def test_backfill_with_no_ingested_delivery_says_why_no_marts_build(platform, instance):
    from dagster import SkipReason

    generated = platform.add_customer("acme", days=1)
    _block(generated.deliveries[0].path)
    defs = platform.definitions()
    key = delivery_key("acme", generated.deliveries[0].delivery_date.isoformat())
    tags = _asset_backfill(defs, instance, "bf-all-blocked", [key])
    only = run_ingest(defs, instance, key, tags=tags)
    assert not only.success
    answer = _failed_trigger(defs, instance, only.run_id)
    assert isinstance(answer, SkipReason), answer
    assert answer.skip_message.startswith("backfill bf-all-blocked finished: none of its 1 runs of acme "
                                          "ingested a delivery (failure; see run "), answer.skip_message
    assert "no marts build needed" in answer.skip_message


def test_backlog_run_stopped_at_a_blocked_delivery_builds_the_marts_of_the_promoted_ones(platform, instance):
    from dagster import RunRequest, SkipReason

    from kinvolved_assets.defs.keys import BACKLOG_OP
    from kinvolved_assets.local_runner import run_backlog

    generated = platform.add_customer("acme", days=3)
    deliveries = sorted(generated.deliveries, key=lambda d: d.delivery_date)
    _block(deliveries[2].path)
    defs = platform.definitions()
    dates = [d.delivery_date.isoformat() for d in deliveries]
    # a backlog run launched by the daemon (the sensor's catch-up, the UI): no in-process caller to
    # build marts
    run = run_backlog(defs, instance, "acme", run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates}}}})
    assert not run.success
    request = _failed_trigger(defs, instance, run.run_id)
    assert isinstance(request, RunRequest), request
    assert request.partition_key == "acme" and request.run_key == f"marts-after-{run.run_id}"

    # a run that failed before promoting anything leaves the marts alone, and says so
    again = run_backlog(defs, instance, "acme",
                        run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates[2:]}}}})
    assert not again.success
    answer = _failed_trigger(defs, instance, again.run_id)
    assert isinstance(answer, SkipReason) and "before it ingested a delivery" in answer.skip_message, answer


@pytest.mark.parametrize("mode", ["--one-run", "--in-process"])
def test_cli_backfill_whose_last_delivery_is_blocked_builds_the_marts_of_the_earlier_ones(
        platform, capsys, mode):
    import duckdb

    from kinvolved_assets.cli.main import main

    generated = platform.add_customer("acme", days=3)
    deliveries = sorted(generated.deliveries, key=lambda d: d.delivery_date)
    _block(deliveries[-1].path)
    dates = [d.delivery_date.isoformat() for d in deliveries]
    code = main(["backfill", "acme", "--from", dates[0], "--to", dates[-1], mode])
    out = capsys.readouterr().out
    assert code == 1, out                                  # the blocked delivery is reported as a failure
    assert "BLOCKED" in out and "marts   ok" in out, out   # but the two promoted ones reach the marts
    with duckdb.connect(str(platform.warehouse("acme") / "marts.duckdb"), read_only=True) as con:
        tables = con.execute("select count(*) from information_schema.tables").fetchone()[0]
    assert tables > 0
