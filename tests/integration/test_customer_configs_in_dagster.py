"""Customer configs in real Dagster definitions: a broken config among valid ones is shown (placeholder
asset) while a valid customer's delivery materializes; a 2,000-school config builds its
marts (the lists travel to dbt in a file); the delivery-date partitions start at the earliest
configured school year and an older delivery names history_from_school_year."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import yaml
from dagster import AssetKey, AssetSpec, DagsterInstance, Definitions

import kinvolved_assets.definitions  # noqa: F401 - the module-level load happens here, not under caplog
from kinvolved_assets.defs.config_errors import CONFIG_ERRORS_GROUP
from kinvolved_assets.defs.keys import raw_asset_key
from kinvolved_assets.defs.partitions import CUSTOMER_DIM, DATE_DIM, date_start, delivery_key
from kinvolved_assets.generator.calendar import build_calendar
from kinvolved_assets.local_runner import process_landing, run_ingest, tick_delivery_sensor
from kinvolved_assets.marts.reader import open_marts

pytestmark = pytest.mark.integration


def test_broken_config_is_shown_and_a_valid_customer_materializes(platform, instance: DagsterInstance,
                                                                  caplog):
    platform.add_customer("acme", days=2)
    (platform.config_dir / "broken.yaml").write_text("customer_id: broken\nnon_instructional_days:\n"
                                                     "  district: [2025-13-01]\n")
    with caplog.at_level(logging.ERROR, logger="kinvolved"):
        defs = platform.definitions()
    Definitions.validate_loadable(defs)
    logged = [r.getMessage() for r in caplog.records if "broken.yaml" in r.getMessage()]
    assert len(logged) == len(set(logged)) == 6, logged   # one line per problem (5 missing keys, 1 date),
                                                          # once
    assert any("non_instructional_days.district[0]: '2025-13-01' is not a date" in m for m in logged), logged

    # the placeholder asset: in the global lineage, its description is the error and the fix
    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey(["customer_config_errors", "broken"]))
    assert node.group_name == CONFIG_ERRORS_GROUP
    spec = next(s for s in defs.assets if isinstance(s, AssetSpec) and s.key == node.key)
    assert "broken.yaml: non_instructional_days.district[0]: '2025-13-01' is not a date" in spec.description
    assert "reload the code location" in spec.description
    assert spec.metadata["error_count"] == 6
    assert not any("broken" in s.name for s in defs.sensors)
    # the broken customer is left out, the valid one works normally
    customers = defs.resolve_job_def("ingest_delivery").partitions_def.partitions_defs[0].partitions_def
    assert customers.get_partition_keys() == ["acme"]
    report = process_landing(defs, instance, "acme", build_marts=False)
    assert len(report.ingest_runs) == 2 and all(ok for *_, ok in report.ingest_runs), report
    materialization = instance.get_latest_materialization_event(raw_asset_key("users"))
    assert materialization.dagster_event.partition.startswith("acme|")

    # a config that turns bad after the code location loaded: its sensor says why, nothing is touched
    config = platform.config_dir / "acme.yaml"
    config.write_text(config.read_text().replace("America/New_York", "America"))
    tick = tick_delivery_sensor(defs, instance, "acme")
    assert not tick.run_requests
    assert "acme.yaml: timezone: 'America' is not an IANA timezone" in tick.skip_message, tick.skip_message


def test_two_thousand_school_config_builds_marts(platform, instance: DagsterInstance):
    start = build_calendar(2026).start
    weekdays = [start + dt.timedelta(days=i) for i in range(7) if (start + dt.timedelta(days=i)).weekday()
                < 5]
    closures = [d.isoformat() for d in weekdays[:2]] + [
        (dt.date(2026, 1, 5) + dt.timedelta(days=7 * k)).isoformat() for k in range(8)]
    schools = ["org-sch-0001"] + [f"org-sch-{i:04d}" for i in range(1001,
                                                                    2000)] + [f"extra-{i}" for i
                                                                              in range(1000)]
    platform.add_customer("metro", days=7, licensed_schools=schools,
                          non_instructional_days={"district": [],
                                                  "schools": {s: list(closures) for s in schools}})
    text = (platform.config_dir / "metro.yaml").read_bytes()
    assert len(schools) == 2000 and len(text) > 300 * 1024, len(text)   # far over one 128 KiB argument
    report = process_landing(platform.definitions(), instance, "metro")
    assert report.ingest_runs and all(ok for *_, ok in report.ingest_runs), report
    assert report.marts_run and report.marts_run[1], report
    con = open_marts(platform.warehouse("metro") / "marts.duckdb")
    days = {d for (d,) in con.execute("select calendar_date from "
                                      "marts.intermediate.int_instructional_days__enumerated "
                                      "where school_sourced_id = 'org-sch-0001'").fetchall()}
    as_of = con.execute("select max(as_of_date) from msr_student_cumulative_attendance").fetchone()[0]
    expected = {d for d in weekdays if d <= as_of} - set(weekdays[:2])
    assert days == expected, (sorted(days), sorted(expected))
    assert con.execute("select count(*) from fct_student_daily_attendance").fetchone()[0] > 0


def test_partitions_start_at_the_earliest_school_year_and_older_deliveries_name_the_field(platform, instance):
    platform.add_customer("demo", generate_deliveries=False)
    defs = platform.definitions()
    assert date_start(defs.resolve_job_def("ingest_delivery").partitions_def) == "2025-07-01"

    # a district's 2018-19 deliveries: skipped with the field to set, then loaded once it is set
    platform.add_customer("hist", school_year=2019, start=dt.date(2018, 10, 1), days=1)
    config = platform.config_dir / "hist.yaml"
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "school_year": 2026}, sort_keys=False))
    defs = platform.definitions()
    tick = tick_delivery_sensor(defs, instance, "hist")
    assert not tick.run_requests
    assert "set history_from_school_year: 2019 in hist.yaml" in tick.skip_message, tick.skip_message

    config.write_text(yaml.safe_dump({**data, "school_year": 2026, "history_from_school_year": 2019},
                                     sort_keys=False))
    defs = platform.definitions()
    partitions = defs.resolve_job_def("ingest_delivery").partitions_def
    assert date_start(partitions) == "2018-07-01"
    tick = tick_delivery_sensor(defs, instance, "hist")
    assert len(tick.run_requests) == 1, tick.skip_message
    key = tick.run_requests[0].partition_key
    assert key.keys_by_dimension == {CUSTOMER_DIM: "hist", DATE_DIM: "2018-10-01"}
    result = run_ingest(defs, instance, key, tick.run_requests[0].run_config, dict(tick.run_requests[0].tags))
    assert result.success
    # date-range backfills still address the partitions by key
    assert partitions.has_partition_key(delivery_key("demo", "2025-07-01"))
    assert not partitions.has_partition_key(delivery_key("demo", "2018-06-30"))
