"""The backlog run: many deliveries of one customer in one Dagster run, recorded per partition,
with the same raw data and marts as one run per delivery."""

from __future__ import annotations

import zipfile

import pytest
from dagster import DagsterEventType, DagsterInstance, build_run_status_sensor_context

from kinvolved_assets.definitions import build_definitions
from kinvolved_assets.defs.keys import BACKLOG_JOB, raw_asset_key
from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.oneroster.spec import ENTITIES, RAW_ENTITIES

pytestmark = pytest.mark.integration
DAYS = 6


def _platform(kind, root, monkeypatch):
    """A second, separate KINVOLVED_HOME + config folder (same class as the ``platform`` fixture)."""
    (root / "home").mkdir(parents=True)
    (root / "customer_configs").mkdir()
    monkeypatch.setenv("KINVOLVED_HOME", str(root / "home"))
    monkeypatch.setenv("KINVOLVED_CONFIG_DIR", str(root / "customer_configs"))
    return kind(home=root / "home", config_dir=root / "customer_configs")


def _raw_partitions(p) -> dict[str, list[str]]:
    raw = p.warehouse("acme") / "raw"
    return {d.name: sorted(x.name for x in d.iterdir()) for d in sorted(raw.iterdir()) if d.name != "_files"}


def test_backlog_run_matches_one_run_per_delivery(platform, tmp_path, monkeypatch):
    # reference: one run per delivery (backlog disabled)
    one = platform
    n = len(one.add_customer("acme", days=DAYS).deliveries)
    with DagsterInstance.ephemeral() as inst:
        report = process_landing(build_definitions(one.config_dir, one.home, settle_seconds=0,
                                                   backlog_min_deliveries=0), inst, "acme")
        reference_partitions = {e.name: inst.get_materialized_partitions(raw_asset_key(e.name)) for e
                                in ENTITIES}
    assert len(report.ingest_runs) == n and all(ok for *_, ok in report.ingest_runs)
    reference, reference_raw = content_digest(one.warehouse("acme") / "marts.duckdb"), _raw_partitions(one)

    # the same deliveries found by one sensor tick -> one backlog run
    two = _platform(type(platform), tmp_path / "backlog", monkeypatch)
    generated = two.add_customer("acme", days=DAYS)
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
    defs = build_definitions(two.config_dir, two.home, settle_seconds=0, backlog_min_deliveries=3)
    with DagsterInstance.ephemeral() as inst:
        report = process_landing(defs, inst, "acme")
        assert [(r, ok) for r, _, ok in report.ingest_runs] == [(f"{dates[0]}..{dates[-1]}", True)]
        assert report.marts_run and report.marts_run[1]
        run = inst.get_run_by_id(report.ingest_runs[0][1])
        assert run.job_name == BACKLOG_JOB and run.tags["dagster/partition"] == "acme"

        # every delivery is its own customer|date partition of each entity it carried
        expected = {f"acme|{d}" for d in dates}
        assert inst.get_materialized_partitions(raw_asset_key("attendance")) == expected
        assert {e.name: inst.get_materialized_partitions(raw_asset_key(e.name)) for e
                in ENTITIES} == reference_partitions
        checks = [r.event_log_entry.dagster_event.event_specific_data for r in
                  inst.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION,
                                           limit=10_000).records]
        assert {c.partition for c in checks} == expected
        assert {c.check_name for c in checks} == {"contract", "expectations"}
        assert all(c.passed for c in checks)
        assert len(checks) == n * len(RAW_ENTITIES) * 2   # every raw entity x both checks, skipped ones
                                                          # included

        # the marts trigger reacts to the backlog run like to a delivery run
        success = inst.get_records_for_run(run.run_id,
                                           of_type=DagsterEventType.RUN_SUCCESS).records[0].event_log_entry
        ctx = build_run_status_sensor_context(sensor_name="marts_after_delivery",
                                              dagster_event=success.dagster_event,
                                              dagster_instance=inst, dagster_run=run)
        request = defs.resolve_sensor_def("marts_after_delivery")(ctx)
        assert request.partition_key == "acme"

        # a second tick finds nothing new
        again = process_landing(defs, inst, "acme")
        assert again.ingest_runs == [] and again.marts_run is None

    assert _raw_partitions(two) == reference_raw
    assert content_digest(two.warehouse("acme") / "marts.duckdb") == reference


def test_backlog_stops_at_a_blocked_delivery(platform, instance):
    generated = platform.add_customer("acme", days=5)
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
    # the third delivery's attendance file loses a required column
    bad = next(d.path for d in generated.deliveries if d.delivery_date.isoformat() == dates[2])
    broken = bad.with_suffix(".tmp")
    with zipfile.ZipFile(bad) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item).decode("utf-8")
            if item.endswith("attendance.csv"):
                data = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 5)
                                 for line in data.splitlines()) + "\n"
            zout.writestr(item, data)
    broken.replace(bad)
    defs = build_definitions(platform.config_dir, platform.home, settle_seconds=0, backlog_min_deliveries=2)
    report = process_landing(defs, instance, "acme")
    assert [ok for *_, ok in report.ingest_runs] == [False] and report.marts_run is None
    attendance = sorted(p.name for p in (platform.warehouse("acme") / "raw" / "attendance").iterdir())
    assert attendance == [f"delivery_date={d}" for d in dates[:2]]          # promoted before the blocked one
    assert len(list((platform.warehouse("acme") / "quarantine" / dates[2]).iterdir())) == 1
    assert instance.get_materialized_partitions(raw_asset_key("attendance")) == {f"acme|{d}" for d
                                                                                 in dates[:2]}
    failure = instance.get_records_for_run(report.ingest_runs[0][1],
                                           of_type=DagsterEventType.STEP_FAILURE).records
    message = failure[0].event_log_entry.dagster_event.event_specific_data.error.message
    assert dates[2] in message and "2 later ones not run" in message
    # the blocked delivery's check and observation name it and what stays live, as a run per delivery does
    run_id = report.ingest_runs[0][1]
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records]
    failed = [e for e in evaluations if not e.passed]
    assert [(e.asset_key.path[-1], e.partition) for e in failed] == [("attendance", f"acme|{dates[2]}")]
    assert failed[0].description.startswith(f"delivery {dates[2]} (")
    assert (f"FAILED, delivery BLOCKED (not promoted); live: the delivery of {dates[1]} ("
            in failed[0].description)
    observed = {r.event_log_entry.dagster_event.event_specific_data.asset_observation.asset_key.path[-1]
                for r in instance.get_records_for_run(run_id,
                                                      of_type=DagsterEventType.ASSET_OBSERVATION).records}
    assert "attendance" in observed


def test_backfill_one_run_from_the_cli(platform, capsys):
    from kinvolved_assets.cli.main import main

    generated = platform.add_customer("acme", days=3)
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
    code = main(["backfill", "acme", "--from", dates[0], "--to", dates[-1], "--one-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{dates[0]} .. {dates[-1]} ({len(dates)} deliveries)  ok" in out and "marts   ok" in out
    attendance = sorted(p.name for p in (platform.warehouse("acme") / "raw" / "attendance").iterdir())
    assert attendance == [f"delivery_date={d}" for d in dates]
    assert (platform.warehouse("acme") / "marts.duckdb").exists()
