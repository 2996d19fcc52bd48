"""The school year is resolved by dates, not by the schoolYear label (issue item 1): a session labelled
with the starting year (2025 for 2025-09-01..2026-06-26) still gives the 2026 marts (same rows as the
ending-year label), terms alone give them too, and a configured year no session lies in fails the
build instead of publishing empty marts."""

from __future__ import annotations

import pytest
from test_dbt_marts import D1, D, build_main_raw, failures, query, run_dbt_build, write_delivery

pytestmark = pytest.mark.integration
MART_COUNTS = ("select (select count(*) from marts.fct_student_daily_attendance), "
               "(select count(*) from marts.msr_student_cumulative_attendance), "
               "(select min(start_date) || ' ' || max(end_date) "
               "from intermediate.int_school_years__resolved)")


def _sessions(label_2026: int, terms_only: bool = False) -> list[dict]:
    if terms_only:
        return [{"sourcedId": "T1", "title": "Fall", "type": "semester", "startDate": D("2025-09-01"),
                 "endDate": D("2026-01-23"), "schoolYear": label_2026},
                {"sourcedId": "T2", "title": "Spring", "type": "semester", "startDate": D("2026-01-26"),
                 "endDate": D("2026-06-26"), "schoolYear": label_2026}]
    return [{"sourcedId": "SY2026", "title": "2025-26", "type": "schoolYear", "startDate": D("2025-09-01"),
             "endDate": D("2026-06-26"), "schoolYear": label_2026},
            {"sourcedId": "SY2025", "title": "2024-25", "type": "schoolYear", "startDate": D("2024-09-01"),
             "endDate": D("2025-06-26"), "schoolYear": label_2026 - 1}]


def test_school_year_by_dates_whatever_the_label(tmp_path):
    raw = tmp_path / "raw"
    build_main_raw(raw)
    spec_label, db = run_dbt_build(tmp_path, "ending", raw)
    assert spec_label.success, failures(spec_label)
    expected = query(db, MART_COUNTS)
    assert expected[0][0] > 0 and expected[0][2] == "2025-09-01 2026-06-26"

    write_delivery(raw, "academic_sessions", D1, "bulk", _sessions(2025))   # the starting-year convention
    starting, db2 = run_dbt_build(tmp_path, "starting", raw)
    assert starting.success, failures(starting)
    assert query(db2, MART_COUNTS) == expected

    write_delivery(raw, "academic_sessions", D1, "bulk", _sessions(2026, terms_only=True))
    terms, db3 = run_dbt_build(tmp_path, "terms", raw)
    assert terms.success, failures(terms)
    assert query(db3, MART_COUNTS) == expected

    nothing, _ = run_dbt_build(tmp_path, "nothing", raw, school_year=2027)
    assert ("assert_school_year_resolved", "fail") in failures(nothing)
