"""The text report of `kinvolved validate`: aligned tables and a verdict whose numbers add up."""

from __future__ import annotations

from kinvolved_assets.oneroster.findings import Finding
from kinvolved_assets.validate import DeliveryReport, FileSummary
from kinvolved_assets.validate_report import text_table, to_text, verdict


def _suite(entity, *, errors=0, warns=0, blocking=None, results=()):
    return {"entity": entity, "passed": not errors and not warns,
            "blocking": bool(errors) if blocking is None else blocking,
            "metadata": {"expectations_evaluated": 20, "failed_error": errors, "failed_warn": warns,
                         "failures_md": "| raw | markdown |", "results": list(results)}}


def _report(**kw) -> DeliveryReport:
    files = [FileSummary("attendance.csv", "attendance", "delta", 1234, 2, False),
             FileSummary("users.csv", "users", "bulk", 56, 0, False)]
    return DeliveryReport(path="d.zip", sha256="ab" * 32, fatal=False, files=files, **kw)


def test_verdict_adds_up_contract_errors_and_blocking_expectations():
    failed = {"rule": "attendance.date.not_after_delivery", "severity": "error", "success": False,
              "unexpected_count": 3, "element_count": 1234,
              "examples": [{"line": 7, "sourcedId": "a7", "value": "'2031-01-01'"}]}
    warned = {"rule": "users.volume", "severity": "warn", "success": False, "unexpected_count": 1,
              "element_count": 56}
    report = _report(findings=[Finding("error", "orgs.csv", 4, "type", "row.bad_enum", "x"),
                               Finding("warning", "users.csv", 9, "role", "row.bad_enum", "y")],
                     expectations=[_suite("attendance", errors=1, results=[failed]),
                                   _suite("users", warns=1, results=[warned]),
                                   _suite("orgs",
                                          blocking=True)])   # an engine error: blocking, no failed rule
    line = verdict(report)
    assert line == ("Result: FAILED - 3 errors (1 contract, 2 failed expectations in 2 blocking suites), "
                    "2 warnings (1 findings, 1 expectations)")
    text = to_text(report)
    assert text.endswith(line)
    assert "| raw | markdown |" not in text and "|---" not in text
    rows = [ln for ln in text.splitlines() if "attendance.date.not_after_delivery" in ln]
    assert rows and "line 7 / a7 / '2031-01-01'" in rows[0] and " ERROR " in rows[0]


def test_clean_report_says_ok_and_tables_align():
    report = _report(expectations=[_suite("attendance")])
    text = to_text(report)
    assert text.splitlines()[-1] == ("Result: OK - 0 errors (0 contract, 0 failed expectations in 0 blocking "
                                     "suites), 0 warnings (0 findings, 0 expectations)")
    table = text_table(["file", "rows"], [["attendance.csv", "1,234"], ["u.csv", "5"]], right={1})
    assert table == ["  file             rows", "  --------------  -----", "  attendance.csv  1,234",
                     "  u.csv               5"]
    files = [ln for ln in text.splitlines() if ln.startswith("  "
                                                             "attendance.csv")
                                                             or ln.startswith("  users.csv")]
    assert len({ln.index(" delta") if "delta" in ln else ln.index(" bulk ") for ln in files}) == 1
