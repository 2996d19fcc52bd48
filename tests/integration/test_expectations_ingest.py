"""The suites inside ``ingest_delivery``: a failing ERROR expectation blocks promotion, the report is
written."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import CHECK_NAME, delivery_reporter, expectations_validator
from kinvolved_assets.oneroster import spec
from kinvolved_assets.paths import CustomerPaths
from tests.unit.expectations_fixtures import CUSTOMER, PII, good_rows

pytestmark = pytest.mark.integration


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_delivery(folder: Path, rows: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True)
    for ent in spec.ENTITIES:
        with open(folder / ent.file_name, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(ent.column_names)
            for row in rows[ent.name]:
                w.writerow([_cell(row.get(c)) for c in ent.column_names])
    return folder


def ingest(home: Path, date: str, rows):
    paths = CustomerPaths.for_customer(CUSTOMER.customer_id, home)
    delivery = write_delivery(paths.landing / f"acme_{date.replace('-', '')}", rows)
    return paths, ingest_delivery(CUSTOMER, paths, date, run_id=f"run-{date}", delivery_hint=str(delivery),
                                  validators=[expectations_validator()], reporter=delivery_reporter)


def test_good_then_bad_delivery(tmp_path):
    home = tmp_path / "home"
    paths, good = ingest(home, "2025-09-05", good_rows())
    assert good.promoted, good.blocking_summary()
    for name, eo in good.entities.items():
        checks = {c.name: c for c in eo.checks}
        assert checks[CHECK_NAME].passed, (name, checks[CHECK_NAME].metadata["failures_md"])
    assert (good.report_path == paths.report_dir("2025-09-05") / "validation.html"
            and good.report_path.exists())
    before = sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet"))

    bad = good_rows()
    bad["attendance"][0]["absenceCode"] = "ZZ"           # unresolved reference: ERROR
    bad["attendance"][1]["date"] = dt.date(2025, 9, 20)   # after the delivery date: ERROR
    paths, outcome = ingest(home, "2025-09-08", bad)
    assert not outcome.promoted
    check = next(c for c in outcome.entities["attendance"].checks if c.name == CHECK_NAME)
    assert not check.passed and check.blocking
    assert set(check.metadata["unexpected_counts"]) >= {"attendance.absenceCode.references_absence_codes"}
    failed = {r["rule"] for r in check.metadata["results"] if not r["success"]}
    assert failed == {"attendance.absenceCode.references_absence_codes", "attendance.date.not_after_delivery"}
    # raw/ is exactly what the good delivery left
    assert sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet")) == before
    html = outcome.report_path.read_text()
    assert "BLOCKED" in html and "attendance.date.not_after_delivery" in html
    for secret in PII.values():
        assert secret not in html


def test_importing_the_package_does_not_import_gx():
    code = ("import sys, kinvolved_assets.expectations as e; e.rules_table(); "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
