"""The scheduled periods of a student-day (int_period_slots__enumerated), shared by the daily derivation
from periods and the ignored period events (docs/attendance-rules.md 4a): one slot per period a class
lists, one for a class listing none; an event for a period its class does not list and one for a class
the student is not enrolled in are ignored with their reason, the others mark their slots."""

from __future__ import annotations

import pytest

from tests.integration.test_dbt_marts import (
    D,
    code,
    enrollment,
    event,
    failures,
    org,
    query,
    run_dbt_build,
    user,
    write_delivery,
)

pytestmark = pytest.mark.integration
DAY = "2025-09-15"


def write_raw(raw) -> None:
    delivery = D("2025-09-16")
    classes = [{"sourcedId": cid, "title": cid, "courseSourcedId": "CR1", "classType": "scheduled",
                "schoolSourcedId": "S1", "termSourcedIds": ["SY2026"], "periods": periods}
               for cid, periods in (("C1", ["1", " 2 "]), ("C2", []), ("C3", ["4"]), ("C4", ["7"]))]
    for entity, rows in [
            ("orgs", [org("D", "District", "district"), org("S1", "School One", "school", "ID-S1", "D")]),
            ("academic_sessions", [{"sourcedId": "SY2026", "title": "2025-26", "type": "schoolYear",
                                    "startDate": D("2025-09-01"), "endDate": D("2026-06-26"),
                                    "schoolYear": 2026}]),
            ("courses", [{"sourcedId": "CR1", "title": "Course 1", "orgSourcedId": "D"}]),
            ("classes", classes),
            ("users", [user("u1")]),
            ("enrollments", [enrollment(f"e-{c}", "u1", c, "S1") for c in ("C1", "C2", "C4")]),
            ("absence_codes", [code("code-A", "A", True), code("code-P", "P", False, category="present")])]:
        write_delivery(raw, entity, delivery, "bulk", rows)
    write_delivery(raw, "attendance", delivery, "bulk", [
        event("p1", "u1", "S1", DAY, "A", cls="C1", period="1"),     # marks (C1, 1)
        event("p2", "u1", "S1", DAY, "A", cls="C2", period="5"),     # C2 lists no periods: its one slot
        event("p3", "u1", "S1", DAY, "A", cls="C4", period="3"),     # C4 lists 7 only: not scheduled
        event("p4", "u1", "S1", DAY, "A", cls="C3", period="4"),     # not enrolled in C3
    ])


def test_slots_feed_the_derived_day_and_the_ignored_events(tmp_path):
    raw = tmp_path / "raw"
    write_raw(raw)
    result, db = run_dbt_build(tmp_path, "slots", raw, licensed_schools=["S1"], non_instructional_days=[],
                               school_non_instructional_days={}, period_rule_mode="share",
                               period_rule_share=0.5, period_rule_code="A")
    assert result.success, failures(result)
    assert query(db, "select class_sourced_id, slot_period, is_whole_class "
                     "from intermediate.int_period_slots__enumerated order by all") == [
        ("C1", "1", False), ("C1", "2", False), ("C2", "", True), ("C4", "7", False)]
    assert query(db, "select attendance_sourced_id, reason "
                     "from intermediate.int_period_events__ignored "
                     "order by 1") == [("p3", "period_not_scheduled"), ("p4", "class_not_enrolled")]
    # 2 absent (C1 period 1, C2) of 4 scheduled periods: share 0.5 makes the day absent
    assert query(db, "select scheduled_periods, absent_periods, absent_fraction, absence_code "
                     "from intermediate.int_daily_attendance__derived_from_periods "
                     f"where attendance_date = '{DAY}'") == [
        (4, 2, 1.0, "A")]
    assert query(db, "select absent_fraction from marts.fct_student_daily_attendance "
                     f"where \"date\" = '{DAY}'") == [(1.0,)]
