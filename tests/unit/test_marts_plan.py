"""The marts build plan: which deliveries let the next build start from the published marts, and the
reason of every fall-back to a full build (real Parquet partitions and DuckDB files)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from kinvolved_assets.marts.plan import current_stamp, delivery_order, plan_build, write_stamp

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
VARS = {"customer_id": "acme", "chronic_threshold": 0.1}


def _deliver(raw: Path, entity: str, day: str, seq: int, mode: str = "delta") -> None:
    for base in (raw / entity, raw / "_files" / entity):
        folder = base / f"delivery_date={day}" / f"seq={seq}"
        folder.mkdir(parents=True, exist_ok=True)
        duckdb.connect().execute(
            f"copy (select '{entity}' as entity, date '{day}' as delivery_date, '{mode}' as mode, 1 as rows) "
            f"to '{folder / 'part-0.parquet'}' (format parquet)")


@pytest.fixture
def site(tmp_path):
    raw, settings = tmp_path / "raw", tmp_path / "customer_settings.json"
    settings.write_text('{"licensed_schools": ["sch-1"]}')
    _deliver(raw, "users", "2025-09-01", 1, "bulk")
    _deliver(raw, "attendance", "2025-09-01", 1, "bulk")
    _deliver(raw, "attendance", "2025-09-02", 2)
    published = tmp_path / "marts.duckdb"
    duckdb.connect(str(published)).close()
    write_stamp(published, current_stamp(PROJECT, VARS, settings, raw))
    return raw, settings, published


def _plan(site, vars_=VARS, **kw):
    raw, settings, published = site
    return plan_build(published, current_stamp(PROJECT, vars_, settings, raw), raw, **kw)


def test_nightly_deltas_after_the_published_build_are_incremental(site):
    raw = site[0]
    assert _plan(site).incremental and _plan(site).reason.startswith("0 delivery")
    _deliver(raw, "attendance", "2025-09-03", 3)
    _deliver(raw, "users", "2025-09-03", 3)
    plan = _plan(site)
    assert plan.incremental, plan.reason
    assert plan.reason == "1 delivery(ies) after 2025-09-02 #2, no bulk"
    assert len(plan.new_partitions) == 4
    # the incremental models take the rows after the published build's latest delivery (its key)
    assert plan.after_key == 20250902 * 10**9 + 2


def test_a_published_build_of_no_delivery_is_followed_by_a_full_build(tmp_path):
    raw, published = tmp_path / "raw", tmp_path / "marts.duckdb"
    settings = tmp_path / "customer_settings.json"
    settings.write_text("{}")
    duckdb.connect(str(published)).close()
    write_stamp(published, current_stamp(PROJECT, VARS, settings, raw))   # built before any delivery
    _deliver(raw, "attendance", "2025-09-02", 1)
    plan = _plan((raw, settings, published))
    assert not plan.incremental and plan.reason == "the published build holds no delivery"


def test_the_first_delivery_of_a_new_school_year_is_a_full_build(site):
    raw = site[0]
    _deliver(raw, "attendance", "2026-06-30", 3)
    assert _plan(site).incremental
    _deliver(raw, "attendance", "2026-07-01", 4)   # school year 2027 starts: its roster state is new
    plan = _plan(site)
    assert not plan.incremental and plan.after_key == 0
    assert plan.reason == "a new school year starts (2026-07-01: school year 2027)"


@pytest.mark.parametrize("change, reason", [
    ("bulk", "a bulk arrived (users 2025-09-03)"),
    ("older", "new partition(s) apply before the published build's latest delivery 2025-09-02 #2"),
    ("reingest", "partition(s) of the published build were re-ingested or removed"),
    ("removed", "partition(s) of the published build were re-ingested or removed"),
    ("settings", "the customer's settings changed"),
    ("vars", "the customer's settings changed"),
    ("refresh", "full_refresh requested in the run config"),
    ("unstamped", "the published marts carry no build stamp"),
    ("unpublished", "no published marts yet"),
])
def test_every_other_change_falls_back_to_a_full_build(site, change, reason):
    raw, settings, published = site
    vars_, kw = VARS, {}
    part = raw / "attendance" / "delivery_date=2025-09-02" / "seq=2" / "part-0.parquet"
    if change == "bulk":
        _deliver(raw, "attendance", "2025-09-03", 3)
        _deliver(raw, "users", "2025-09-03", 3, "bulk")
    elif change == "older":
        _deliver(raw, "attendance", "2025-09-02", 1)   # seq 1 of a date already built past (#2)
    elif change == "reingest":
        os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 1))
    elif change == "removed":
        part.unlink()
    elif change == "settings":
        settings.write_text('{"licensed_schools": ["sch-1", "sch-2"]}')
    elif change == "vars":
        vars_ = {**VARS, "chronic_threshold": 0.2}
    elif change == "refresh":
        kw = {"full_refresh": True}
    elif change == "unstamped":
        published.unlink()
        duckdb.connect(str(published)).close()
    elif change == "unpublished":
        published.unlink()
    plan = _plan(site, vars_, **kw)
    assert not plan.incremental
    assert reason in plan.reason, plan.reason


def test_delivery_order_reads_date_and_seq():
    assert delivery_order("attendance/delivery_date=2025-09-02/seq=12/part-0.parquet") == ("2025-09-02", 12)
    assert delivery_order("_files/users/delivery_date=2025-09-02/part-0.parquet") == ("2025-09-02", 0)
