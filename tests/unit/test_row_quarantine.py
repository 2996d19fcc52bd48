"""Row-level problems quarantine the row, delivery-level problems block (issue item 5): one future-dated
event, an unknown code or an unknown student no longer holds back the valid rows of the night; the
customer can make the rules block (``strict`` or per rule); most rows refused still blocks; rows
quarantined for a code that arrives later are admitted when the delivery is re-run."""

from __future__ import annotations

import duckdb
import pytest

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import expectations_validator
from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text
from tests.unit.corpus.reader_deliveries import VALID, write_delivery

D = "2024-03-05"
ATT_HEAD = VALID["attendance.csv"].splitlines()[0] + "\n"
GOOD = "".join(VALID["attendance.csv"].splitlines(keepends=True)[1:])
FUTURE = "a7,,,,s1,u1,2024-03-09,AE,,,\n"
UNKNOWN_CODE = "a8,,,,s1,u1,2024-03-04,ZZ,,,\n"
UNKNOWN_STUDENT = "a9,,,,s1,u404,2024-03-04,AE,,,\n"
VALIDATOR = expectations_validator(engine="duckdb")


def _config(**validation) -> CustomerConfig:
    return CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=2024, validation=validation)


def _deliver(tmp_path, files: dict, date: str = D, config=None, run_id="r1", name=None):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True, exist_ok=True)
    write_delivery(paths.landing, files, name=name or f"export_{date}")
    return paths, ingest_delivery(config or _config(), paths, date, run_id=run_id, validators=[VALIDATOR])


def _check(outcome, entity="attendance"):
    return next(c for c in outcome.entities[entity].checks if c.name == "expectations")


def _raw_ids(paths, date=D) -> list[str]:
    part = paths.raw_partition("attendance", date) / "seq=*" / "part-0.parquet"
    return [r[0] for r in duckdb.sql(f"SELECT sourcedId FROM '{part}' ORDER BY 1").fetchall()]


def test_bad_rows_are_quarantined_and_the_rest_of_the_night_loads(tmp_path):
    paths, out = _deliver(tmp_path,
                          {"attendance.csv": ATT_HEAD + GOOD + FUTURE + UNKNOWN_CODE + UNKNOWN_STUDENT
                                     + GOOD.replace("a1,", "b1,").replace("a2,", "b2,").replace("a3,",
                                                                                                "b3,")})
    assert out.promoted, out.blocking_summary()
    check = _check(out)
    assert not check.passed and not check.blocking
    counts = check.metadata["unexpected_counts"]
    assert counts["attendance.date.not_after_delivery.quarantined"] == 1
    assert counts["attendance.absenceCode.references_absence_codes.quarantined"] == 1
    assert counts["attendance.userSourcedId.references_users.quarantined"] == 1
    assert counts["attendance.date.not_after_delivery"] == 0
    assert _raw_ids(paths) == ["a1", "a2", "a3", "b1", "b2", "b3"]
    rej = paths.rejects_partition("attendance", D) / "seq=*" / "rejects.parquet"
    got = duckdb.sql(f"SELECT sourcedId, _line, _rule FROM '{rej}' ORDER BY _line").fetchall()
    assert got == [("a7", 5, "attendance.date.not_after_delivery"),
                   ("a8", 6, "attendance.absenceCode.references_absence_codes"),
                   ("a9", 7, "attendance.userSourcedId.references_users")]
    files = paths.files_partition("attendance", D) / "seq=*" / "part-0.parquet"
    assert duckdb.sql("SELECT rows, rejected_rows, CAST(max_date AS VARCHAR) FROM "
                      f"'{files}'").fetchall() == [(6, 3, "2024-03-05")]
    assert out.entities["attendance"].result.rows == 6


@pytest.mark.parametrize("validation, blocked", [
    ({"strict": True}, True),
    ({"rule_severity": {"attendance.date.not_after_delivery": "block"}}, True),
    ({"rule_severity": {"attendance.absenceCode.references_absence_codes": "block"}}, False),
    ({"strict": True, "rule_severity": {"attendance.date.not_after_delivery": "quarantine"}}, False),
])
def test_the_customer_decides_which_row_rules_block(tmp_path, validation, blocked):
    _, out = _deliver(tmp_path, {"attendance.csv": ATT_HEAD + GOOD + FUTURE}, config=_config(**validation))
    assert out.promoted is not blocked
    if blocked:
        assert "attendance: expectations" in out.blocking_summary()


def test_most_rows_refused_blocks_the_delivery(tmp_path):
    bad = "".join(FUTURE.replace("a7,", f"f{i},") for i in range(4))
    paths, out = _deliver(tmp_path, {"attendance.csv": ATT_HEAD + GOOD + bad})
    assert not out.promoted and _check(out).blocking
    assert not paths.raw_partition("attendance", D).exists()


def test_rows_of_a_code_sent_later_come_back_when_the_delivery_is_rerun(tmp_path):
    paths, first = _deliver(tmp_path, {}, date="2024-03-04", name="export_2024-03-04")   # roster + codes
    assert first.promoted
    only_att = {k: None for k in VALID if k != "attendance.csv"}
    night = ATT_HEAD + GOOD.replace("2024-03-05", "2024-03-04") + UNKNOWN_CODE.replace("ZZ", "LATE")
    _, second = _deliver(tmp_path, {**only_att, "attendance.csv": night}, date="2024-03-05", run_id="r2")
    assert second.promoted and _raw_ids(paths) == ["a1", "a2", "a3"]
    codes = VALID["absenceCodes.csv"] + "ac9,,,LATE,true,false,Late arrival,,tardy,\n"
    only_codes = {k: None for k in VALID if k != "absenceCodes.csv"}
    _, third = _deliver(tmp_path, {**only_codes, "absenceCodes.csv": codes}, date="2024-03-06", run_id="r3")
    assert third.promoted
    rerun = ingest_delivery(_config(), paths, "2024-03-05", run_id="r4", validators=[VALIDATOR])
    assert rerun.promoted and _raw_ids(paths) == ["a1", "a2", "a3", "a8"]
    assert not list(paths.rejects_partition("attendance", "2024-03-05").glob("**/rejects.parquet"))


def test_validate_with_the_customer_counts_what_ingest_would_load_and_quarantine(tmp_path, monkeypatch):
    monkeypatch.setenv("KINVOLVED_HOME", str(tmp_path / "home"))
    more = GOOD.replace("a1,", "b1,").replace("a2,", "b2,").replace("a3,", "b3,")
    files = {"attendance.csv": ATT_HEAD + GOOD + FUTURE + UNKNOWN_CODE + UNKNOWN_STUDENT + more
             + "a10,,,,s1,u1,2024-03-04,,,,\n"}   # one row the reader rejects (no absenceCode)
    rep = validate_delivery(write_delivery(tmp_path, files, name=f"export_{D}"), customer=_config())
    att = next(f for f in rep.files if f.entity == "attendance")
    _, out = _deliver(tmp_path, files)
    ingested = out.entities["attendance"].result
    assert (att.rows, att.rejected, att.quarantined) == (6, 1, 3)
    assert (att.rows, att.rejected + att.quarantined) == (ingested.rows, ingested.rejected_rows)
    line = next(ln for ln in to_text(rep).splitlines() if ln.lstrip().startswith("attendance.csv"))
    assert line.split()[3:7] == ["6", "1", "3", "ok"], line
    assert "rows = what ingest would load" in to_text(rep) and '"quarantined": 3' in to_json(rep)
