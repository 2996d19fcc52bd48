"""A per-year calendar in the customer config (school_years: docs/onboarding.md, "School years"): the
year's first and last school day come from the config instead of its academic sessions, and its
non-instructional days are added to the top-level ones — through the settings file Dagster writes."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from tests.integration.test_dbt_marts import D, build_main_raw, failures, query, run_dbt_build

pytestmark = pytest.mark.integration

CONFIG = textwrap.dedent("""\
    customer_id: testdistrict
    name: Test District
    sis: PowerSchool
    timezone: America/New_York
    products: [attendance]
    school_year: 2026
    licensed_schools: [S1, ID-S2]
    non_instructional_days:
      district: [2025-09-01]
      schools: {S2: [2025-09-05]}
    school_years:
      2026:
        first_day: 2025-09-03
        last_day: 2025-09-19
        non_instructional_days:
          district: [2025-09-10]
          schools: {S1: [2025-09-12]}
    """)


def expected_days(first: dt.date, last: dt.date, closed: set[dt.date]) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if d.weekday() < 5 and d not in closed]


def test_configured_calendar_replaces_the_sessions_dates(tmp_path):
    from kinvolved_assets.customers import validate_customer_config
    from kinvolved_assets.marts.settings import write_dbt_settings

    raw = tmp_path / "raw"
    build_main_raw(raw)         # sessions: 2025-09-01 .. 2026-06-26; last attendance delivery 2025-09-26
    path = tmp_path / "testdistrict.yaml"
    path.write_text(CONFIG)
    config, errors = validate_customer_config(path)
    assert errors == [], errors
    variables = write_dbt_settings(config, tmp_path / "settings")
    assert "school_calendars" not in variables, "the calendars travel in the settings file"
    result, db = run_dbt_build(tmp_path, "calendar", raw, **variables)
    assert result.success, failures(result)

    days = {school: [r[0] for r in query(db, "select calendar_date "
                                             "from intermediate.int_instructional_days__enumerated "
                                             f"where school_sourced_id = '{school}' order by 1")]
            for school in ("S1", "S2")}
    first, last = D("2025-09-03"), D("2025-09-19")     # the config's, not the session's 2025-09-01 .. 09-26
    assert days["S1"] == expected_days(first, last, {D("2025-09-10"), D("2025-09-12")})
    assert days["S2"] == expected_days(first, last, {D("2025-09-10"), D("2025-09-05")})
    # the year's as-of date is its configured last day (the last delivery is later)
    assert query(db, "select distinct school_year, as_of_date "
                     "from marts.msr_student_cumulative_attendance") == [
        (2026, last)]
    assert query(db, "select min(\"date\"), max(\"date\") "
                     "from marts.fct_student_daily_attendance") == [(first, last)]
    # a student enrolled at S1 all along is enrolled on each of those days
    enrolled = dict(query(db, "select school_sourced_id, max(days_enrolled) "
                              "from marts.msr_student_cumulative_attendance group by 1"))
    assert enrolled["S1"] == len(days["S1"]) and enrolled["S2"] == len(days["S2"]), enrolled


def test_configured_calendar_stands_for_a_year_without_sessions(tmp_path):
    """The district's sessions no longer include 2025-26: without a calendar the build stops
    (assert_school_year_resolved); with the config's school_years block the year is built from it."""
    from kinvolved_assets.customers import validate_customer_config
    from kinvolved_assets.marts.settings import write_dbt_settings
    from tests.integration.test_dbt_marts import write_delivery

    raw = tmp_path / "raw"
    build_main_raw(raw)
    write_delivery(raw, "academic_sessions", D("2025-09-29"), "bulk", [
        {"sourcedId": "SY2025", "title": "2024-25", "type": "schoolYear", "startDate": D("2024-09-01"),
         "endDate": D("2025-06-26"), "schoolYear": 2025}])
    without, _ = run_dbt_build(tmp_path, "no_sessions", raw)
    assert ("assert_school_year_resolved", "fail") in failures(without)

    path = tmp_path / "testdistrict.yaml"
    path.write_text(CONFIG)
    config, errors = validate_customer_config(path)
    assert errors == [], errors
    result, db = run_dbt_build(tmp_path, "calendar_only", raw,
                               **write_dbt_settings(config, tmp_path / "settings"))
    assert result.success, failures(result)
    assert query(db, "select school_year, start_date, end_date, as_of_date "
                     "from intermediate.int_school_years__resolved where school_year = 2026") == [
        (2026, D("2025-09-03"), D("2025-09-20"), D("2025-09-19"))]
    assert query(db, "select min(\"date\"), max(\"date\") from marts.fct_student_daily_attendance") == [
        (D("2025-09-03"), D("2025-09-19"))]
