"""A blocked delivery says which delivery failed which check and what stays live (real Dagster runs)."""

from __future__ import annotations

import re
import zipfile

import pytest
from dagster import AssetCheckKey, AssetKey, AssetRecordsFilter, DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from kinvolved_assets.local_runner import process_landing

pytestmark = pytest.mark.integration


def _drop_column(source, target, member_suffix: str, index: int) -> None:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item).decode("utf-8")
            if item.endswith(member_suffix):
                data = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != index)
                                 for line in data.splitlines()) + "\n"
            zout.writestr(item, data)


def test_blocked_redelivery_names_itself_and_what_is_live(platform, instance):
    platform.add_customer("acme", days=1)
    defs = platform.definitions()
    first = process_landing(defs, instance, "acme", build_marts=False)
    assert [ok for *_, ok in first.ingest_runs] == [True]
    date = first.ingest_runs[0][0]
    good = platform.generated["acme"].deliveries[0].path
    bad = platform.landing("acme") / f"acme_{date.replace('-', '')}_resent.zip"
    _drop_column(good, bad, "attendance.csv", 5)
    second = process_landing(defs, instance, "acme", build_marts=False)
    assert [(d, ok) for d, _, ok in second.ingest_runs] == [(date, False)]
    run_id = second.ingest_runs[0][1]

    checks = {}
    for record in instance.get_records_for_run(run_id,
                                               of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records:
        data = record.event_log_entry.dagster_event.event_specific_data
        checks[(data.asset_key.path[-1], data.check_name)] = data
    failed = checks[("attendance", "contract")]
    assert not failed.passed
    assert failed.description.startswith(f"delivery {date} ({bad.name}, sha256 ")
    assert "FAILED, delivery BLOCKED (not promoted)" in failed.description
    assert f"live: the delivery of {date} (" in failed.description
    meta = {k: v.value for k, v in failed.metadata.items()}
    assert meta["delivery_file"] == bad.name and meta["promoted"] is False
    assert meta["live_delivery_date"] == date
    assert meta["live_rows"] > 0
    orgs = checks[("orgs", "contract")]
    assert orgs.passed and "passed, delivery BLOCKED" in orgs.description

    observations = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_OBSERVATION).records
    by_entity = {r.event_log_entry.dagster_event.event_specific_data.asset_observation.asset_key.path[-1]:
                 r.event_log_entry.dagster_event.event_specific_data.asset_observation for r in observations}
    attendance = by_entity["attendance"]
    assert attendance.partition == f"acme|{date}"
    assert attendance.metadata["failed_checks"].value == "contract"
    assert attendance.metadata["blocked_delivery_file"].value == bad.name
    # the re-delivery is the date's second delivery: its report has a folder of its own (seq=<n>)
    assert re.search(rf"/acme/reports/{date}/seq=[0-9]+/validation\.html$",
                     attendance.metadata["validation_report_url"].value)
    assert attendance.metadata["live_delivery_date"].value == date
    assert "BLOCKED by attendance: contract" in attendance.description
    # the data of the good delivery is what the asset still serves
    live = instance.get_latest_materialization_event(AssetKey(["oneroster", "attendance"]))
    assert live.run_id == first.ingest_runs[0][1]

    # the check runs per delivery partition: its latest execution is the blocked delivery's FAILED one,
    # targeting the partition's live materialization (what the UI's "Latest execution" resolves)
    key = AssetCheckKey(AssetKey(["oneroster", "attendance"]), "contract")
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    assert latest.run_id == run_id and latest.status == AssetCheckExecutionRecordStatus.FAILED
    assert latest.partition == f"acme|{date}"
    live_in_partition = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key.asset_key, asset_partitions=[f"acme|{date}"]), limit=1).records[0]
    assert latest.evaluation.target_materialization_data.storage_id == live_in_partition.storage_id
