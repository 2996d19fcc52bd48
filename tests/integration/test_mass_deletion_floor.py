"""The mass-deletion guard trips only above both a fraction AND an absolute count (issue item 6):
a school-scoped attendance bulk that replaces 2 of 2 events passes; the same shape with more events
than the floor is blocked; the floor is a customer config field passed to dbt as a var."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dbt_marts import (
    D1,
    D2,
    code,
    failures,
    org,
    query,
    run_dbt_build,
    user,
    write_delivery,
)

from kinvolved_assets.customers import CustomerConfig

pytestmark = pytest.mark.integration


def event(sid, student, date, code_):
    from test_dbt_marts import event as base_event
    return base_event(sid, student, "S1", date, code_)


def _school_bulks(raw: Path, n: int) -> None:
    """Two attendance bulks of school S1 over the same date: the second replaces every event (other
    students: new natural keys, so each earlier event would be deleted)."""
    write_delivery(raw, "orgs", D1, "bulk",
                   [org("D", "District", "district"), org("S1", "School One", "school", parent="D")])
    write_delivery(raw, "users", D1, "bulk", [user(f"u{i}") for i in range(2 * n)])
    write_delivery(raw, "absence_codes", D1, "bulk", [code("A", "A", True), code("T", "T", False)])
    write_delivery(raw, "attendance", D1, "bulk",
                   [event(f"e{i}", f"u{i}", "2025-09-10", "A") for i in range(n)])
    write_delivery(raw, "attendance", D2, "bulk",
                   [event(f"f{i}", f"u{n + i}", "2025-09-10", "T") for i in range(n)])


def test_school_bulk_replacing_two_of_two_events_passes(tmp_path):
    raw = tmp_path / "raw"
    _school_bulks(raw, 2)
    result, db = run_dbt_build(tmp_path, "two", raw)
    assert ("assert_no_mass_deletion", "fail") not in failures(result), failures(result)
    rows = query(db, "select entity, would_delete, active_before from "
                     "intermediate.int_bulk_deliveries__audited "
                     "where entity = 'attendance'")
    assert rows == [("attendance", 2, 2)]


def test_above_the_floor_and_the_fraction_is_blocked_and_the_floor_is_configurable(tmp_path):
    raw = tmp_path / "raw"
    _school_bulks(raw, 6)
    result, _ = run_dbt_build(tmp_path, "six", raw)
    assert ("assert_no_mass_deletion", "fail") in failures(result)
    cfg = CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                         products=["attendance"], school_year=2026,
                         attendance={"mass_deletion_min_records": 7})
    assert cfg.dbt_vars()["mass_deletion_min_records"] == 7
    raised, _ = run_dbt_build(tmp_path, "six_floor7", raw, mass_deletion_min_records=7)
    assert ("assert_no_mass_deletion", "fail") not in failures(raised), failures(raised)
