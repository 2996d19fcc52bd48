"""Two deliveries of the same date (issue 15, case 6): a nightly delivery, then a correction of that day.

Both are kept (``raw/<entity>/delivery_date=<D>/seq=<N>/``), the correction is validated against
everything ingested before it, the nightly of the same day included (a school, a student and a code
the nightly introduced are known), each keeps its own validation report, and the current state
applies them in arrival order (the correction wins although its name sorts first)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import CHECK_NAME, delivery_reporter, expectations_validator
from kinvolved_assets.oneroster import spec
from kinvolved_assets.paths import CustomerPaths, partition_files
from tests.integration.test_dbt_marts import failures, query, run_dbt_build
from tests.integration.test_expectations_ingest import _cell
from tests.unit.expectations_fixtures import CUSTOMER, good_rows

pytestmark = pytest.mark.integration

DAY = "2025-09-08"
STAMP = dt.datetime(2025, 9, 8, 6, 0)
BASE = {"status": "active", "dateLastModified": STAMP}


def write_delivery(folder: Path, rows: dict[str, list[dict]]) -> Path:
    """The files of ``rows`` only (a delta delivery of a few files), no manifest."""
    folder.mkdir(parents=True)
    for ent in spec.ENTITIES:
        if ent.name in rows:
            with open(folder / ent.file_name, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(ent.column_names)
                for row in rows[ent.name]:
                    w.writerow([_cell(row.get(c)) for c in ent.column_names])
    return folder


def school(name: str) -> dict:
    return {**BASE, "sourcedId": "org-s1", "name": name, "type": "school", "parentSourcedId": "org-d"}


def nightly() -> dict[str, list[dict]]:
    """A new school, a new student there and a new absence code; school org-s1 renamed."""
    return {
        "orgs": [school("Acme Elementary (nightly)"),
                 {**BASE, "sourcedId": "org-s2", "name": "Acme Middle", "type": "school",
                  "parentSourcedId": "org-d"}],
        "users": [{**BASE, "sourcedId": "stu-3", "enabledUser": True, "orgSourcedIds": ["org-s2"],
                   "role": "student",
                   "grades": ["06"], "identifier": "S-3", "username": "student.three", "givenName": "Given",
                   "familyName": "Family"}],
        "absence_codes": [{**BASE, "sourcedId": "ac-ue", "title": "UE", "absent": True, "excused": False,
                           "category": "unexcused_absence", "dayFraction": 1.0}],
    }


def correction() -> dict[str, list[dict]]:
    """Its own deltas of orgs, users and codes (none of the nightly's new records), and attendance
    pointing at the nightly's school, student and code."""
    rows = good_rows()
    return {
        "orgs": [school("Acme Elementary (corrected)")],   # same line and stamp as the nightly's: seq decides
        "users": [{**rows["users"][0], "dateLastModified": STAMP}],
        "absence_codes": [{**rows["absence_codes"][1], "dateLastModified": STAMP}],
        "attendance": [{**BASE, "sourcedId": "att-9", "schoolSourcedId": "org-s2", "userSourcedId": "stu-3",
                        "date": dt.date(2025, 9, 4), "absenceCode": "UE"}],
    }


def ingest(paths: CustomerPaths, date: str, name: str, rows: dict, sha256: str | None = None):
    delivery = None if sha256 else write_delivery(paths.landing / name, rows)
    return ingest_delivery(CUSTOMER, paths, date, run_id=f"run-{name}",
                           delivery_hint=str(delivery) if delivery else None,
                           sha256=sha256, validators=[expectations_validator()], reporter=delivery_reporter)


def expectations(outcome, entity: str):
    return next(c for c in outcome.entities[entity].checks if c.name == CHECK_NAME)


@pytest.fixture(scope="module")
def same_day(tmp_path_factory):
    home = tmp_path_factory.mktemp("same_day") / "home"
    paths = CustomerPaths.for_customer(CUSTOMER.customer_id, home)
    first = ingest(paths, "2025-09-05", "acme_20250905", good_rows())
    assert first.promoted, first.blocking_summary()
    # the nightly arrives first; the correction's name sorts before it
    night = ingest(paths, DAY, "acme_20250908_nightly", nightly())
    fixed = ingest(paths, DAY, "acme_20250908_a_correction", correction())
    return paths, night, fixed


def test_both_kept_and_the_correction_validated_against_the_nightly(same_day):
    paths, night, fixed = same_day
    assert night.promoted, night.blocking_summary()
    assert fixed.promoted, fixed.blocking_summary()
    check = expectations(fixed, "attendance")
    assert check.passed, check.metadata.get("failures_md")
    refs = {k: v for k, v in check.metadata["unexpected_counts"].items() if ".references_" in k}
    assert set(refs) >= {"attendance.schoolSourcedId.references_orgs",
                         "attendance.userSourcedId.references_users",
                         "attendance.absenceCode.references_absence_codes"} and not any(refs.values()), refs
    assert check.metadata["rows"] == 1
    # the ledger's arrival sequence keys the partitions: both orgs deltas of the day are in raw/
    seqs = [(day, seq) for day, seq, _ in partition_files(paths.raw / "orgs")]
    assert seqs == [("2025-09-05", 1), (DAY, 2), (DAY, 3)], seqs
    assert [(d, s) for d, s, _ in partition_files(paths.raw / "_files" / "orgs")] == seqs
    assert [(d, s) for d, s, _ in partition_files(paths.raw / "attendance")] == [("2025-09-05", 1), (DAY, 3)]
    con = sqlite3.connect(paths.warehouse / "ledger.sqlite")
    rows = con.execute("select seq, file_name, state from deliveries order by delivery_date, seq").fetchall()
    con.close()
    assert rows == [(1, "acme_20250905", "ingested"), (2, "acme_20250908_nightly", "ingested"),
                    (3, "acme_20250908_a_correction", "ingested")], rows


def test_each_delivery_keeps_its_own_report(same_day):
    paths, night, fixed = same_day
    assert night.report_path == paths.report_dir(DAY) / "validation.html"
    assert fixed.report_path == paths.report_dir(DAY, 3) / "validation.html"
    reports = {json.loads(p.with_suffix(".json").read_text())["delivery_file"] for p in (night.report_path,
                                                                                fixed.report_path)}
    assert reports == {"acme_20250908_nightly", "acme_20250908_a_correction"}


def test_reingest_of_the_nightly_keeps_the_correction(same_day):
    paths, night, _ = same_day
    again = ingest(paths, DAY, "acme_20250908_nightly", {}, sha256=night.delivery_sha256)
    assert again.promoted, again.blocking_summary()
    assert [(d, s) for d, s, _ in partition_files(paths.raw / "orgs")] == [("2025-09-05", 1), (DAY, 2),
                                                                           (DAY, 3)]
    assert again.report_path == night.report_path


def test_current_state_applies_same_day_deliveries_in_arrival_order(same_day, tmp_path):
    paths, _, _ = same_day
    result, db = run_dbt_build(tmp_path, "same_day", paths.raw, customer_id="acme",
                               licensed_schools=["org-s1", "org-s2"])
    assert result.success, failures(result) or result.exception
    schools = dict(query(db, "select school_sourced_id, name from marts.dim_schools order by 1"))
    assert schools == {"org-s1": "Acme Elementary (corrected)", "org-s2": "Acme Middle"}, schools
    seq = query(db, "select max(_delivery_seq) from intermediate.int_orgs__merged_by_year "
                    "where org_sourced_id = 'org-s1'")
    assert seq == [(3,)]
