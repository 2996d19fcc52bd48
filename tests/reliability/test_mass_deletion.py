"""Mass deletion guard: a partial bulk export (15 of the district's students) is stopped by the blocking
dbt test with a message naming the entity, what would be removed and how to force it; the published
marts stay. Forcing with run config works and is recorded in the materialization metadata."""

from __future__ import annotations

import csv
import io

import pytest
from dagster import DagsterEventType, DagsterInstance
from reliability_support import copy_site, record_fault, rewrite_zip

from kinvolved_assets.marts.reader import content_digest, open_marts

pytestmark = pytest.mark.reliability
KEEP_STUDENTS = 15


def _partial_bulk(source, target) -> tuple[int, int]:
    """Keep every non-student row but only KEEP_STUDENTS students (their enrollments, demographics,
    attendance and guardians' links); returns (students before, kept)."""
    kept: set[str] = set()
    total = 0

    def rows(text):
        reader = csv.DictReader(io.StringIO(text))
        return reader.fieldnames, list(reader)

    def write(fields, data):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
        return out.getvalue()

    def transform(name, text):
        nonlocal total
        if name == "users.csv":
            fields, data = rows(text)
            students = [r for r in data if r["role"] == "student"]
            total = len(students)
            kept.update(r["sourcedId"] for r in students[:KEEP_STUDENTS])
            out = []
            for r in data:
                if r["role"] == "student" and r["sourcedId"] not in kept:
                    continue
                if r["role"] in ("guardian", "parent"):
                    links = [a for a in (r.get("agentSourcedIds") or "").split(",") if a]
                    if links and not any(a in kept for a in links):
                        continue
                    r["agentSourcedIds"] = ",".join(a for a in links if a in kept
                                                    or not a.startswith("usr-stu"))
                out.append(r)
            return write(fields, out)
        return text

    def second(name, text):
        if name in ("enrollments.csv", "attendance.csv"):
            fields, data = rows(text)
            return write(fields, [r for r in data if not r["userSourcedId"].startswith("usr-stu")
                                  or r["userSourcedId"] in kept])
        if name == "demographics.csv":
            fields, data = rows(text)
            return write(fields, [r for r in data if r["sourcedId"] in kept])
        if name == "users.csv":   # student rows link to guardians: keep only links that still exist
            fields, data = rows(text)
            ids = {r["sourcedId"] for r in data}
            for r in data:
                r["agentSourcedIds"] = ",".join(a for a in (r.get("agentSourcedIds") or "").split(",") if a
                                                in ids)
            return write(fields, data)
        return text

    first = target.with_name(target.name + ".step")
    rewrite_zip(source, first, transform)
    rewrite_zip(first, target, second)
    first.unlink()
    return total, len(kept)


def _events_text(instance: DagsterInstance, run_id: str) -> str:
    parts = []
    for record in instance.all_logs(run_id):
        parts.append(record.user_message or "")
        event = record.dagster_event
        if event is None:
            continue
        parts.append(event.message or "")
        data = event.event_specific_data
        if getattr(data, "error", None) is not None:
            parts.append(data.error.to_string())
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            parts.append(f"{data.check_name} passed={data.passed} " + repr(
                {k: v.value for k, v in data.metadata.items()}) + " " + str(data.description or ""))
    return "\n".join(parts)


def test_partial_bulk_is_stopped_then_forced(tmp_path, baseline):
    site = copy_site(baseline, tmp_path / "site")
    (site.landing("acme") / baseline.last_delivery).unlink()   # not needed here
    bulk = sorted((site.home / "archive" / "acme").rglob("*.zip"))[0]
    partial = site.landing("acme") / "acme_20250902.zip"
    total, kept = _partial_bulk(bulk, partial)
    assert kept == KEEP_STUDENTS and total > 10 * KEEP_STUDENTS
    before = content_digest(site.marts("acme"))

    site.run("ingest", "acme", "2025-09-02")
    rc, summary, out, err = site.run("marts", "acme", expect_ok=False)
    assert content_digest(site.marts("acme")) == before, "a blocked build replaced the published marts"
    instance = DagsterInstance.from_config(str(site.dagster_home))
    text = _events_text(instance, summary["run_id"]) + "\n" + "\n".join(summary.get("failures", []))
    logs = "\n".join(p.read_text(errors="replace") for p in (site.dagster_home / "storage").rglob("*")
                     if p.is_file() and summary["run_id"] in str(p))
    surfaced = text + "\n" + logs
    assert "assert_no_mass_deletion" in surfaced
    message = next((line for line in surfaced.splitlines() if "Mass deletion blocked" in line), "")
    for word in ("users (bulk of 2025-09-02)", "would_delete=", "active_before=",
                 "force_mass_deletion: true"):
        assert word in message, f"the operator is not told {word!r}:\n{message or surfaced[-4000:]}"
    # the run's failure itself says what would be removed and how to force it
    failure = next((line for line in text.splitlines() if "mass deletion blocked" in line), "")
    for word in ("a bulk of users delivered 2025-09-02 would remove", "force_mass_deletion: true"):
        assert word in failure, f"the run failure does not say {word!r}:\n{text[-3000:]}"

    rc, summary, *_ = site.run("marts", "acme", "--force")
    assert content_digest(site.marts("acme")) != before
    with open_marts(site.marts("acme")) as con:
        students = con.execute("select count(distinct student_sourced_id) from fct_enrollments "
                               "where is_active").fetchone()[0] if _has_column(con) else None
    # the dbt models' materializations (the district report downstream of them is no dbt model)
    forced = [r for r in instance.all_logs(summary["run_id"])
              if r.dagster_event and r.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
              and r.dagster_event.asset_key.path[0] != "reports"]
    assert forced and all(
        r.dagster_event.event_specific_data.materialization.metadata["mass_deletion_forced"].value is True
        for r in forced)
    record_fault(f"partial bulk export: {kept} of {total} students",
                 f"marts build failed on assert_no_mass_deletion, published marts unchanged; operator sees: "
                 f"{message.strip()[message.find('Mass'):][:400]!r}; forced run succeeded ({len(forced)} "
                 "materializations with "
                 f"mass_deletion_forced=true{'' if students is None else f', {students} active students'})")


def _has_column(con) -> bool:
    cols = {r[0] for r in con.execute("select column_name from duckdb_columns() where table_name = "
                                      "'fct_enrollments'")
            .fetchall()}
    return {"is_active", "student_sourced_id"} <= cols
