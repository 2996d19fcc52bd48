"""Mart materializations carry their figures; implausible marts fail their plausibility checks in a
real Dagster marts run (dbt build), and the CLI and the validation report say so."""

from __future__ import annotations

import json

import pytest
import yaml
from dagster import AssetKey

from kinvolved_assets.defs.mart_checks import plausibility_of_run
from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import open_marts

pytestmark = pytest.mark.integration


def _meta(instance, mart: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(["marts", mart]))
    assert event is not None, mart
    return event.asset_materialization.metadata


def test_mart_materializations_carry_figures_and_plausible_marts_pass(platform, instance):
    platform.add_customer("acme", days=4)
    report = process_landing(platform.definitions(), instance, "acme")
    assert report.marts_run and report.marts_run[1]
    con = open_marts(platform.warehouse("acme") / "marts.duckdb")
    rate, chronic, students, as_of = con.execute(
        "select sum(days_present) / sum(days_enrolled), count(*) filter (where is_chronically_absent), "
        "count(distinct student_sourced_id), cast(max(as_of_date) as varchar) "
        "from msr_student_cumulative_attendance").fetchone()
    for mart in ("dim_schools", "fct_student_daily_attendance", "msr_school_daily_attendance",
                 "msr_student_cumulative_attendance"):
        meta = _meta(instance, mart)
        assert meta["dagster/row_count"].value == con.execute("select count(*) from "
                                                              f"{mart}").fetchone()[0] > 0
        assert meta["as_of_date"].value == as_of
    cumulative = _meta(instance, "msr_student_cumulative_attendance")
    assert cumulative["attendance_rate"].value == pytest.approx(rate, abs=1e-4)
    assert cumulative["chronically_absent"].value == chronic and cumulative["students"].value == students
    columns = {c.name: c for c in _meta(instance,
                                        "msr_school_daily_attendance")["dagster/column_schema"].value.columns}
    assert columns["students_with_absence"].type == "BIGINT"
    assert "absent_fraction > 0" in columns["students_with_absence"].description
    assert columns["attendance_rate"].type == "DOUBLE"
    assert "attendance_rate" not in _meta(instance,
                                          "dim_schools")   # district figures on attendance marts only
    checks = plausibility_of_run(instance, report.marts_run[0])
    assert sorted(name for name, *_ in checks) == ["absences_reported", "daily_fact_not_empty",
                                                   "licensed_schools_have_students"]
    assert all(passed for _, passed, *_ in checks), checks


def test_implausible_marts_fail_their_checks_and_say_so(platform, instance, capsys):
    from kinvolved_assets.cli.ingest import cmd_ingest

    platform.add_customer("acme", days=3)
    config_file = platform.config_dir / "acme.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["licensed_schools"] = ["sch-not-sent"]      # a school the district does not send: 0 student-days
    config_file.write_text(yaml.safe_dump(config))

    class Args:
        customer = "acme"
        no_marts = False
        full_refresh = False

    assert cmd_ingest(Args()) == 0                     # the build is green: the checks warn, they do not
                                                       # block
    out = capsys.readouterr().out
    assert "ERROR daily_fact_not_empty: 0 student-days built although" in out
    assert "WARN  licensed_schools_have_students:" in out and "sch-not-sent" in out
    from kinvolved_assets.cli.runs import instance_for

    inst = instance_for(platform.home)
    event = inst.get_latest_materialization_event(AssetKey(["marts", "fct_student_daily_attendance"]))
    assert event.asset_materialization.metadata["dagster/row_count"].value == 0
    assert event.asset_materialization.metadata["attendance_rate"].value == 0
    run_id = event.run_id
    checks = {name: (passed, severity, text) for name, passed, severity,
              text in plausibility_of_run(inst, run_id)}
    assert checks["daily_fact_not_empty"][:2] == (False, "ERROR")
    assert checks["licensed_schools_have_students"][:2] == (False, "WARN")
    reports = sorted((platform.warehouse("acme") / "reports").glob("*/validation.json"))
    latest = json.loads(reports[-1].read_text())
    assert latest["marts_checks"]["run_id"] == run_id
    assert {r["name"]: r["passed"] for r
            in latest["marts_checks"]["results"]}["daily_fact_not_empty"] is False
    html = reports[-1].with_name("validation.html").read_text()
    assert "Marts built after this delivery" in html and "0 student-days built" in html
