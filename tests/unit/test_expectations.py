"""Expectation suites: good deliveries pass, each rule fails alone on a minimal bad delivery."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from kinvolved_assets.expectations import (
    CHECK_NAME,
    Params,
    evaluate_entity,
    expectations_validator,
    rules_for,
    rules_table,
    validate_loaded_delivery,
)
from kinvolved_assets.expectations.validator import params_for
from kinvolved_assets.oneroster import spec
from tests.unit.expectations_fixtures import (
    BIRTH_DATE,
    COMMENT,
    DATE,
    PII,
    good_rows,
    stage_delivery,
    write_entity,
)


def run_all(ctx, engine="duckdb", gx_entity=None):
    """{entity: CheckOutcome}; ``gx_entity`` is run through GX too and must agree with DuckDB."""
    out = {}
    for name, res in ctx.results.items():
        if not res.present:
            continue
        (check,) = expectations_validator(engine=engine)(name, res, ctx)
        if name == gx_entity:
            (gx_check,) = expectations_validator(engine="gx")(name, res, ctx)
            assert gx_check.metadata["row_rules_engine"] == "gx"
            assert gx_check.metadata["unexpected_counts"] == check.metadata["unexpected_counts"], name
            assert (gx_check.passed, gx_check.blocking) == (check.passed, check.blocking)
            check = gx_check
        out[name] = check
    return out


def failed_rules(checks) -> dict[str, int]:
    return {r["rule"]: r["unexpected_count"] for c in checks.values() for r in c.metadata["results"]
            if not r["success"]}


def assert_only(checks, rule_id: str, count: int = 1, blocking: bool = True):
    assert failed_rules(checks) == {rule_id: count}
    entity = rule_id.split(".")[0]
    check = checks[entity]
    assert check.name == CHECK_NAME and not check.passed and check.blocking is blocking
    assert all(c.passed for n, c in checks.items() if n != entity)
    return next(r for r in check.metadata["results"] if r["rule"] == rule_id)


# ---------------------------------------------------------------- the rules table

def test_rules_are_built_from_the_contract():
    table = rules_table(Params(school_year=2026, delivery_date=dt.date(2025, 9, 5)))
    ids = [r["rule"] for r in table]
    assert len(ids) == len(set(ids))
    for ent in spec.ENTITIES:
        mine = {r.id for r in rules_for(ent.name)}
        for col in ent.required_columns:
            assert f"{ent.name}.{col}.not_null" in mine and f"{ent.name}.{col}.column_exists" in mine
        for c in ent.columns:
            if c.type in ("enum", "enum_list"):
                assert f"{ent.name}.{c.name}.in_set" in mine
            if c.type in ("guid", "guid_list"):
                assert f"{ent.name}.{c.name}.guid_format" in mine
            if c.references:
                assert f"{ent.name}.{c.name}.references_{c.references}" in mine
        assert f"{ent.name}.sourcedId.unique" in mine and f"{ent.name}.rows.volume_change" in mine
    assert {"attendance.date.in_school_year", "attendance.date.not_after_delivery",
            "absence_codes.dayFraction.between_0_1", "academic_sessions.startDate.before_endDate",
            "attendance.absenceCode.references_absence_codes"} <= set(ids)
    assert {r["severity"] for r in table if r["kind"] == "volume"} == {"WARN"}


def test_gx_suite_has_one_expectation_per_row_rule():
    from kinvolved_assets.expectations.gx_runner import build_suite

    rules = rules_for("attendance", Params(school_year=2026, delivery_date=dt.date(2025, 9, 5)))
    suite = build_suite("attendance", rules)
    assert len(suite.expectations) == sum(1 for r in rules if r.engine == "gx")
    assert {e.meta["rule"] for e in suite.expectations} == {r.id for r in rules if r.engine == "gx"}


# ---------------------------------------------------------------- good deliveries

@pytest.mark.parametrize("engine", ["gx", "duckdb", "auto"])
def test_good_delivery_passes_every_suite(tmp_path, engine):
    ctx = stage_delivery(tmp_path)
    checks = run_all(ctx, engine=engine)
    assert set(checks) == {e.name for e in spec.ENTITIES}
    for name, check in checks.items():
        assert check.passed and not check.blocking, (name, check.metadata["failures_md"])
        assert check.metadata["expectations_failed"] == 0
        assert check.metadata["expectations_evaluated"] > 5
        assert check.metadata["report_path"].endswith(f"reports/{DATE}/validation.html")


def test_good_delta_resolves_references_against_current_state(tmp_path):
    first = stage_delivery(tmp_path, date="2025-09-01")
    # promote the first delivery as the current state
    for name in first.results:
        write_entity(first.paths.warehouse, name, "2025-09-01", good_rows()[name])
    rows = {"attendance": good_rows()["attendance"]}
    ctx = stage_delivery(tmp_path, rows, modes={"attendance": "delta"})
    checks = run_all(ctx, gx_entity="attendance")
    assert checks["attendance"].passed, checks["attendance"].metadata["failures_md"]
    refs = [r for r in checks["attendance"].metadata["results"] if r["kind"] == "reference"]
    assert refs and all(r["evaluated"] and r["success"] for r in refs)


# ---------------------------------------------------------------- one test per rule

def test_required_column_missing(tmp_path):
    ctx = stage_delivery(tmp_path, drop_columns={"users": ("role",)})
    checks = run_all(ctx, gx_entity="users")
    assert_only(checks, "users.role.column_exists")


def test_required_value_null(tmp_path):
    rows = good_rows()
    rows["classes"][0]["title"] = None
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="classes")
    r = assert_only(checks, "classes.title.not_null")
    assert r["examples"] == [{"line": 2, "sourcedId": "cls-1", "value": "(blank)"}]


def test_sourced_id_not_unique(tmp_path):
    rows = good_rows()
    rows["orgs"].append(dict(rows["orgs"][1]))
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="orgs")
    r = assert_only(checks, "orgs.sourcedId.unique", count=2)
    assert [e["line"] for e in r["examples"]] == [3, 4]


def test_enum_not_in_set(tmp_path):
    rows = good_rows()
    rows["enrollments"][1]["role"] = "janitor"
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="enrollments")
    r = assert_only(checks, "enrollments.role.in_set")
    assert r["examples"] == [{"line": 3, "sourcedId": "enr-2", "value": "'janitor'"}]


def test_enum_list_element_not_in_set(tmp_path):
    rows = good_rows()
    rows["courses"][0]["grades"] = ["01", "Grade 1"]
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="courses")
    assert_only(checks, "courses.grades.in_set")


def test_guid_format(tmp_path):
    rows = good_rows()
    rows["demographics"][0]["sourcedId"] = "stu 1!"
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="demographics")
    r = assert_only(checks, "demographics.sourcedId.guid_format")
    assert r["examples"][0]["line"] == 2


def test_guid_list_format(tmp_path):
    rows = good_rows()
    rows["classes"][0]["termSourcedIds"] = ["ses-sy", "ses s1"]
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="classes")
    # a malformed id cannot resolve either: both rules name the same element
    assert failed_rules(checks) == {"classes.termSourcedIds.guid_format": 1,
                                    "classes.termSourcedIds.references_academic_sessions": 1}
    assert checks["classes"].blocking


def test_date_format_out_of_calendar_on_personal_column(tmp_path):
    rows = good_rows()
    rows["demographics"][0]["birthDate"] = dt.date(1850, 1, 1)
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="demographics")
    r = assert_only(checks, "demographics.birthDate.date_format")
    assert r["examples"] == [{"line": 2, "sourcedId": "stu-1"}]      # birthDate is personal: no value
    assert "1850" not in json.dumps(checks["demographics"].metadata)


def test_session_start_not_before_end(tmp_path):
    rows = good_rows()
    rows["academic_sessions"][1]["endDate"] = rows["academic_sessions"][1]["startDate"]
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="academic_sessions")
    r = assert_only(checks, "academic_sessions.startDate.before_endDate")
    assert r["examples"] == [{"line": 3, "sourcedId": "ses-s1"}]


def test_enrollment_begin_after_end(tmp_path):
    rows = good_rows()
    rows["enrollments"][0]["beginDate"] = dt.date(2026, 7, 1)
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="enrollments")
    assert_only(checks, "enrollments.beginDate.before_endDate")


def test_day_fraction_out_of_range(tmp_path):
    rows = good_rows()
    rows["absence_codes"][0]["dayFraction"] = 1.5
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="absence_codes")
    r = assert_only(checks, "absence_codes.dayFraction.between_0_1")
    assert r["examples"] == [{"line": 2, "sourcedId": "ac-ae", "value": "'1.5'"}]


def test_minutes_absent_negative(tmp_path):
    rows = good_rows()
    rows["attendance"][0]["minutesAbsent"] = -5.0
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="attendance")
    assert_only(checks, "attendance.minutesAbsent.not_negative")


def test_attendance_outside_school_year(tmp_path):
    rows = good_rows()
    rows["attendance"][1]["date"] = dt.date(2025, 6, 30)     # school year 2026 starts 2025-07-01
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="attendance")
    r = assert_only(checks, "attendance.date.in_school_year")
    assert r["examples"] == [{"line": 3, "sourcedId": "att-2", "value": "'2025-06-30'"}]


def test_attendance_after_delivery_date(tmp_path):
    rows = good_rows()
    rows["attendance"][0]["date"] = dt.date(2025, 9, 8)      # delivered 2025-09-05
    checks = run_all(stage_delivery(tmp_path, rows), gx_entity="attendance")
    assert_only(checks, "attendance.date.not_after_delivery")


@pytest.mark.parametrize("entity, column, bad, rule", [
    ("enrollments", "classSourcedId", "cls-404", "enrollments.classSourcedId.references_classes"),
    ("enrollments", "userSourcedId", "stu-404", "enrollments.userSourcedId.references_users"),
    ("enrollments", "schoolSourcedId", "org-404", "enrollments.schoolSourcedId.references_orgs"),
    ("classes", "courseSourcedId", "crs-404", "classes.courseSourcedId.references_courses"),
    ("classes", "schoolSourcedId", "org-404", "classes.schoolSourcedId.references_orgs"),
    ("classes", "termSourcedIds", ["ses-sy", "ses-404"],
     "classes.termSourcedIds.references_academic_sessions"),
    ("attendance", "userSourcedId", "stu-404", "attendance.userSourcedId.references_users"),
    ("attendance", "userSourcedId", "tch-1", "attendance.userSourcedId.references_users"),   # not a student
    ("attendance", "schoolSourcedId", "org-404", "attendance.schoolSourcedId.references_orgs"),
    ("attendance", "classSourcedId", "cls-404", "attendance.classSourcedId.references_classes"),
    ("attendance", "absenceCode", "ZZ", "attendance.absenceCode.references_absence_codes"),
])
def test_reference_unresolved_blocks(tmp_path, entity, column, bad, rule):
    rows = good_rows()
    rows[entity][0][column] = bad
    checks = run_all(stage_delivery(tmp_path, rows))
    r = assert_only(checks, rule)
    assert r["severity"] == "ERROR" and r["examples"][0]["line"] == 2


def test_reference_to_non_core_target_warns(tmp_path):
    rows = good_rows()
    rows["orgs"][1]["parentSourcedId"] = "org-state"
    checks = run_all(stage_delivery(tmp_path, rows))
    assert_only(checks, "orgs.parentSourcedId.references_orgs", blocking=False)


def test_reference_to_deleted_record_in_current_state(tmp_path):
    rows = good_rows()
    prev = stage_delivery(tmp_path, date="2025-09-01")
    for name in prev.results:
        write_entity(prev.paths.warehouse, name, "2025-09-01", rows[name])
    deleted = [dict(rows["users"][1], status="tobedeleted")]
    write_entity(prev.paths.warehouse, "users", "2025-09-03", deleted, mode="delta")
    ctx = stage_delivery(tmp_path, {"attendance": rows["attendance"]}, modes={"attendance": "delta"})
    checks = run_all(ctx, gx_entity="attendance")
    r = assert_only(checks, "attendance.userSourcedId.references_users")
    assert (r["examples"][0]["sourcedId"] == "att-2" and r["detail"]["against"] == "this delivery + current "
                                                                                   "state")


def test_bulk_target_replaces_current_state(tmp_path):
    rows = good_rows()
    prev = stage_delivery(tmp_path, date="2025-09-01")
    for name in prev.results:
        write_entity(prev.paths.warehouse, name, "2025-09-01", rows[name])
    # this delivery's users bulk no longer has stu-2: attendance for stu-2 cannot resolve
    new = {"users": [u for u in rows["users"] if u["sourcedId"] != "stu-2"], "attendance": rows["attendance"]}
    ctx = stage_delivery(tmp_path, new, modes={"attendance": "delta"})
    checks = run_all(ctx)
    r = assert_only(checks, "attendance.userSourcedId.references_users")
    assert r["detail"]["against"] == "bulk in this delivery"


def test_volume_change_warns_only(tmp_path):
    rows = good_rows()
    prev = stage_delivery(tmp_path, date="2025-09-01")
    for name in prev.results:
        write_entity(prev.paths.warehouse, name, "2025-09-01", rows[name])
    many = rows["attendance"] + [dict(rows["attendance"][1], sourcedId=f"att-x{i}") for i in range(4)]
    write_entity(prev.paths.warehouse, "attendance", "2025-09-02", many, mode="delta")
    # same mode (delta) baseline is 2025-09-02 (6 rows), not the 2025-09-01 bulk (2 rows)
    ctx = stage_delivery(tmp_path, {"attendance": rows["attendance"]}, modes={"attendance": "delta"})
    checks = run_all(ctx)
    r = assert_only(checks, "attendance.rows.volume_change", count=4, blocking=False)
    assert r["severity"] == "WARN"
    assert r["detail"] == {"previous_date": "2025-09-02", "previous_rows": 6, "rows": 2, "mode": "delta",
                           "change": 0.6667}


def test_volume_within_fraction_passes(tmp_path):
    rows = good_rows()
    prev = stage_delivery(tmp_path, date="2025-09-01")
    for name in prev.results:
        write_entity(prev.paths.warehouse, name, "2025-09-01", rows[name])
    checks = run_all(stage_delivery(tmp_path))
    assert all(c.passed for c in checks.values())
    vol = [r for r in checks["users"].metadata["results"] if r["kind"] == "volume"][0]
    assert vol["evaluated"] and vol["detail"]["change"] == 0.0


# ---------------------------------------------------------------- engine errors

def test_gx_engine_error_is_a_blocking_failure(tmp_path):
    rows = good_rows()
    for r in rows["attendance"]:
        r["minutesAbsent"] = "ten" if r.get("minutesAbsent") is not None else None
    ctx = stage_delivery(tmp_path, rows, types={"attendance": {"minutesAbsent": pa.string()}})
    (check,) = expectations_validator(engine="gx")("attendance", ctx.results["attendance"], ctx)
    assert not check.passed and check.blocking
    bad = [r for r in check.metadata["results"] if r.get("error")]
    assert [r["rule"] for r in bad] == ["attendance.minutesAbsent.not_negative"]
    assert bad[0]["severity"] == "ERROR" and check.metadata["engine_errors"] == 1
    assert "engine error" in check.metadata["failures_md"]


def test_gx_unavailable_is_a_blocking_failure(tmp_path, monkeypatch):
    from kinvolved_assets.expectations import gx_runner

    def broken():
        raise ImportError("great_expectations could not be imported")

    monkeypatch.setattr(gx_runner, "_gx", broken)
    ctx = stage_delivery(tmp_path)
    (check,) = expectations_validator(engine="gx")("orgs", ctx.results["orgs"], ctx)
    assert not check.passed and check.blocking and check.metadata["engine_errors"] > 0


def test_gx_chunks_sum_counts(tmp_path):
    rows = good_rows()
    rows["attendance"] = [dict(rows["attendance"][1], sourcedId=f"att-{i}",
                               minutesAbsent=-1.0 if i % 3 == 0 else 1.0)
                          for i in range(10)]
    ctx = stage_delivery(tmp_path, rows)
    res = ctx.results["attendance"]
    params = params_for(ctx.customer, ctx.delivery_date)
    a = evaluate_entity("attendance", res, ctx.results, params, raw_root=None, delivery_date=None,
                        engine="gx",
                        chunk_rows=3)
    b = evaluate_entity("attendance", res, ctx.results, params, raw_root=None, delivery_date=None,
                        engine="duckdb")
    assert a.metadata["unexpected_counts"] == b.metadata["unexpected_counts"]
    assert a.metadata["unexpected_counts"]["attendance.minutesAbsent.not_negative"] == 4


# ---------------------------------------------------------------- validate CLI entry point

def test_validate_loaded_delivery_without_customer(tmp_path):
    rows = good_rows()
    rows["enrollments"][0]["role"] = "janitor"
    ctx = stage_delivery(tmp_path, rows, omit=("absence_codes",), modes={"users": "delta"})
    found = validate_loaded_delivery(ctx.results, delivery_date=DATE)
    by = {c["entity"]: c for c in found}
    assert not by["enrollments"]["passed"] and by["enrollments"]["blocking"]
    att = {r["rule"]: r for r in by["attendance"]["metadata"]["results"]}
    assert att["attendance.absenceCode.references_absence_codes"]["evaluated"] is False
    assert "attendance.date.in_school_year" not in att          # no customer: no school year
    json.dumps(found)                                             # plain data for --json


def test_validate_loaded_delivery_with_customer_checks_school_year(tmp_path):
    rows = good_rows()
    rows["attendance"][0]["date"] = dt.date(2024, 9, 2)
    ctx = stage_delivery(tmp_path, rows)
    found = validate_loaded_delivery(ctx.results, customer=ctx.customer, delivery_date=DATE, paths=ctx.paths)
    failed = {r["rule"] for c in found for r in c["metadata"]["results"] if not r["success"]}
    assert failed == {"attendance.date.in_school_year"}


# ---------------------------------------------------------------- personal data

def test_no_personal_value_in_metadata_or_report(tmp_path):
    from kinvolved_assets.delivery.ingest import DeliveryOutcome, EntityOutcome
    from kinvolved_assets.expectations import delivery_reporter

    rows = good_rows()
    for u in rows["users"]:
        u["role"] = "pupil"                          # every user row fails, examples come from those rows
        u["givenName"] = None if u["sourcedId"] == "stu-2" else u["givenName"]
    rows["demographics"][0]["birthDate"] = dt.date(1850, 1, 1)
    rows["attendance"][1]["date"] = dt.date(2030, 1, 1)
    ctx = stage_delivery(tmp_path, rows)
    checks = run_all(ctx, engine="gx")
    assert not checks["users"].passed and not checks["demographics"].passed
    outcome = DeliveryOutcome("acme", DATE, tmp_path / "acme_20250905.zip", "f" * 64, [],
                              {n: EntityOutcome(n, r, [checks[n]] if n in checks else []) for n,
                               r in ctx.results.items()},
                              promoted=False, seconds=1.0)
    path = delivery_reporter(outcome, ctx)
    assert path == ctx.paths.report_dir(DATE) / "validation.html" and path.exists()
    texts = [path.read_text(), (path.parent / "validation.json").read_text(),
             json.dumps({n: c.metadata for n, c in checks.items()}, default=str)]
    secrets = list(PII.values()) + [BIRTH_DATE.isoformat(), "1850-01-01", COMMENT, "Philippa", "Brigadoon"]
    for text in texts:
        for secret in secrets:
            assert secret not in text, secret
    assert "users.role.in_set" in texts[0] and "BLOCKED" in texts[0]


def test_empty_bulk_target_keeps_current_state(tmp_path):
    rows = good_rows()
    prev = stage_delivery(tmp_path, date="2025-09-01")
    for name in prev.results:
        write_entity(prev.paths.warehouse, name, "2025-09-01", rows[name])
    ctx = stage_delivery(tmp_path, {"absence_codes": [], "attendance": rows["attendance"]},
                         modes={"attendance": "delta"})
    checks = run_all(ctx)
    # attendance codes resolve against the state; the empty bulk itself is a volume warning
    assert failed_rules(checks) == {"absence_codes.rows.volume_change": 2}
    assert checks["attendance"].passed and not checks["absence_codes"].blocking
