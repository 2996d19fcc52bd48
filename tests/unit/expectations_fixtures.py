"""Minimal staged deliveries for the expectation tests, written straight in the raw Parquet layout."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kinvolved_assets.checks import DeliveryContext
from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.oneroster import spec
from kinvolved_assets.oneroster.load import LoadResult
from kinvolved_assets.paths import CustomerPaths

DATE = "2025-09-05"
# strict: every failed ERROR rule blocks, row-level ones included (the suites as such are tested
# here; quarantining rows instead is tests/unit/test_row_quarantine.py)
CUSTOMER = CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=2026, validation={"strict": True})

# Personal values that must never appear in any check metadata or report.
PII = {
    "givenName": "Zebulonia", "familyName": "Quixotesmithe", "middleName": "Ottoline",
    "username": "zquix.private", "email": "zebulonia.q@private-mail.example", "phone": "555-013-7799",
    "sms": "555-013-4411", "password": "hunter2secret",
}
BIRTH_DATE = dt.date(2014, 3, 17)
COMMENT = "Zebulonia called in sick, mother Philippa"

_PA = {
    "guid": pa.string(), "string": pa.string(), "enum": pa.string(), "date": pa.date32(),
    "datetime": pa.timestamp("us"), "year": pa.int32(), "boolean": pa.bool_(),
    "guid_list": pa.list_(pa.string()),
    "list": pa.list_(pa.string()), "enum_list": pa.list_(pa.string()), "float": pa.float64(),
    "integer": pa.int64(),
}
D = dt.date.fromisoformat


def good_rows() -> dict[str, list[dict]]:
    stamp = dt.datetime(2025, 9, 1, 12, 0)
    base = {"status": "active", "dateLastModified": stamp}
    student = {**base, "enabledUser": True, "orgSourcedIds": ["org-s1"], "role": "student", "grades": ["01"],
               "identifier": "S-1", **PII}
    return {
        "orgs": [
            {**base, "sourcedId": "org-d", "name": "Acme District", "type": "district"},
            {**base, "sourcedId": "org-s1", "name": "Acme Elementary", "type": "school",
             "parentSourcedId": "org-d"},
        ],
        "academic_sessions": [
            {**base, "sourcedId": "ses-sy", "title": "SY 2025-26", "type": "schoolYear",
             "startDate": D("2025-08-25"),
             "endDate": D("2026-06-15"), "schoolYear": 2026},
            {**base, "sourcedId": "ses-s1", "title": "S1", "type": "semester", "startDate": D("2025-08-25"),
             "endDate": D("2026-01-16"), "parentSourcedId": "ses-sy", "schoolYear": 2026},
        ],
        "courses": [
            {**base, "sourcedId": "crs-1", "schoolYearSourcedId": "ses-sy", "title": "Grade 1",
             "grades": ["01"],
             "orgSourcedId": "org-s1"},
        ],
        "classes": [
            {**base, "sourcedId": "cls-1", "title": "1A", "grades": ["01"], "courseSourcedId": "crs-1",
             "classType": "homeroom", "schoolSourcedId": "org-s1", "termSourcedIds": ["ses-sy", "ses-s1"]},
        ],
        "users": [
            {**student, "sourcedId": "stu-1"},
            {**student, "sourcedId": "stu-2", "identifier": "S-2"},
            {**base, "sourcedId": "tch-1", "enabledUser": True, "orgSourcedIds": ["org-s1"],
             "role": "teacher",
             "username": "teacher.one", "givenName": "Tea", "familyName": "Cher"},
        ],
        "enrollments": [
            {**base, "sourcedId": "enr-1", "classSourcedId": "cls-1", "schoolSourcedId": "org-s1",
             "userSourcedId": "stu-1", "role": "student", "primary": True, "beginDate": D("2025-08-25"),
             "endDate": D("2026-06-15")},
            {**base, "sourcedId": "enr-2", "classSourcedId": "cls-1", "schoolSourcedId": "org-s1",
             "userSourcedId": "stu-2", "role": "student"},
            {**base, "sourcedId": "enr-3", "classSourcedId": "cls-1", "schoolSourcedId": "org-s1",
             "userSourcedId": "tch-1", "role": "teacher"},
        ],
        "demographics": [
            {**base, "sourcedId": "stu-1", "birthDate": BIRTH_DATE, "sex": "female",
             "cityOfBirth": "Brigadoon"},
        ],
        "absence_codes": [
            {**base, "sourcedId": "ac-ae", "title": "AE", "absent": True, "excused": True,
             "category": "excused_absence",
             "dayFraction": 1.0},
            {**base, "sourcedId": "ac-t", "title": "T", "absent": False, "excused": False,
             "category": "tardy",
             "dayFraction": 0.0},
        ],
        "attendance": [
            {**base, "sourcedId": "att-1", "classSourcedId": "cls-1", "schoolSourcedId": "org-s1",
             "userSourcedId": "stu-1", "date": D("2025-09-02"), "absenceCode": "AE", "period": "1",
             "minutesAbsent": 50.0},
            {**base, "sourcedId": "att-2", "schoolSourcedId": "org-s1", "userSourcedId": "stu-2",
             "date": D("2025-09-03"), "absenceCode": "ac-t", "comment": COMMENT},
        ],
    }


def write_entity(root: Path, entity: str, date: str, rows: list[dict], mode: str = "bulk",
                 drop_columns: tuple[str, ...] = (),
                 types: dict[str, pa.DataType] | None = None) -> LoadResult:
    """Write raw/<entity>/delivery_date=<date>/part-0.parquet and its _files row below ``root``."""
    ent = spec.entity(entity)
    fields = [pa.field(c.name,
                       (types or {}).get(c.name,
                                         _PA[c.type])) for c in ent.columns if c.name not in drop_columns]
    fields += [pa.field("_line", pa.int64()), pa.field("_delivery_date", pa.date32()),
               pa.field("_mode", pa.string()),
               pa.field("_file", pa.string())]
    data = {f.name: [] for f in fields}
    for i, row in enumerate(rows):
        for f in fields:
            data[f.name].append(row.get(f.name))
        data["_line"][-1] = i + 2
        data["_delivery_date"][-1] = D(date)
        data["_mode"][-1] = mode
        data["_file"][-1] = ent.file_name
    table = pa.table({f.name: pa.array(data[f.name], type=f.type) for f in fields})
    part = root / "raw" / entity / f"delivery_date={date}"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part / "part-0.parquet")
    files = root / "raw" / "_files" / entity / f"delivery_date={date}"
    files.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "entity": [entity], "delivery_date": pa.array([D(date)], pa.date32()), "mode": [mode],
        "file_name": [ent.file_name], "sha256": ["0" * 64], "rows": pa.array([len(rows)], pa.int64()),
        "rejected_rows": pa.array([0], pa.int64()), "min_date": pa.array([None], pa.date32()),
        "max_date": pa.array([None], pa.date32())}), files / "part-0.parquet")
    return LoadResult(entity=entity, file_name=ent.file_name, sha256="0" * 64, mode=mode, rows=len(rows),
                      parquet_path=part / "part-0.parquet", files_path=files / "part-0.parquet")


def stage_delivery(tmp_path: Path, rows: dict[str, list[dict]] | None = None, *, date: str = DATE,
                   modes: dict[str, str] | None = None,
                   drop_columns: dict[str, tuple[str, ...]] | None = None,
                   omit: tuple[str, ...] = (), types: dict[str, dict] | None = None) -> DeliveryContext:
    rows = copy.deepcopy(rows if rows is not None else good_rows())
    paths = CustomerPaths.for_customer(CUSTOMER.customer_id, tmp_path / "home")
    staging = paths.warehouse / "staging" / "run-1"
    results = {}
    for ent in spec.ENTITIES:
        if ent.name in omit or ent.name not in rows:
            results[ent.name] = LoadResult(entity=ent.name, present=False)
            continue
        results[ent.name] = write_entity(staging, ent.name, date, rows[ent.name],
                                         (modes or {}).get(ent.name, "bulk"),
                                         (drop_columns or {}).get(ent.name, ()), (types or {}).get(ent.name))
    return DeliveryContext(CUSTOMER, paths, date, staging, results, "run-1")
