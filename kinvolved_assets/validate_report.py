"""Render a ``DeliveryReport`` as readable text or JSON (never any personal-data value)."""

from __future__ import annotations

import json
from collections import defaultdict

from kinvolved_assets.oneroster.findings import RULES, printable
from kinvolved_assets.validate import DeliveryReport

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def to_json(report: DeliveryReport, customer: str | None = None) -> str:
    data = report.to_dict()
    if customer:
        data["customer"] = customer
    data["errors"] = len(report.errors) + len(report.blocking_expectations)
    data["warnings"] = sum(1 for f in report.findings if f.severity == "warning")
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def text_table(headers: list[str], rows: list[list], right: set[int] = frozenset(),
               indent: str = "  ") -> list[str]:
    """Rows aligned under their headers (numbers right-aligned), one line per row."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return indent + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return [line(cells[0]), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]


def _examples(result: dict) -> str:
    if result.get("error"):
        # the stored error is already harmless (the exception's type, never its message)
        where = f"column {result['column']}, " if result.get("column") else ""
        return f"engine error: {result['error']}; {where}expected: {result.get('description', '')}"[:200]
    parts = [" / ".join(str(b) for b in (f"line {e['line']}" if "line" in e else None, e.get("sourcedId"),
                                          e.get("value")) if b is not None) for e in result.get("examples",
                                                                                                [])]
    text = "; ".join(parts)
    if result.get("detail"):
        text = (text + " " if text else "") + ", ".join(f"{k}={v}" for k, v in result["detail"].items())
    return text[:120]


def _files_lines(report: DeliveryReport) -> list[str]:
    rows = [[printable(str(f.name)), f.entity, f.mode or "-", f"{f.rows:,}", f"{f.rejected:,}",
             "FAILED" if f.failed else "ok"]
            for f in report.files]
    if not any(f.quarantined for f in report.files):
        return ["", "Files"] + text_table(["file", "entity", "mode", "rows", "rejected", "status"], rows,
                                          {3, 4})
    for row, f in zip(rows, report.files, strict=True):   # `validate --customer`: what ingest would do
        row.insert(5, f"{f.quarantined:,}")
    return ["", "Files (rows = what ingest would load)"] + text_table(
        ["file", "entity", "mode", "rows", "rejected", "quarantined", "status"], rows, {3, 4, 5})


def _findings_lines(report: DeliveryReport, first_n: int) -> list[str]:
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for f in report.findings:
        groups[(f.severity, f.rule)].append(f)
    if not groups:
        return []
    lines = ["", "Findings"]
    for (sev, rule), items in sorted(groups.items(),
                                     key=lambda kv: (SEVERITY_ORDER.get(kv[0][0], 9), kv[0][1])):
        desc = RULES.get(rule, ("", "", ""))[2]
        lines.append(f"  {sev.upper():<7} {rule} x{len(items)}  {desc}")
        for f in items[:first_n]:
            where = ":".join(str(x) for x in (f.file, f.line) if x is not None)
            col = f" [{f.column}]" if f.column else ""
            lines.append(f"      {where}{col} {f.message}")
        if len(items) > first_n:
            lines.append(f"      ... and {len(items) - first_n} more")
    return lines


def _suite_errors(e: dict) -> int:
    """Blocking failures of a suite (an engine error without a failed expectation still counts one)."""
    return max(int(e["metadata"].get("failed_error", 0) or 0), 1 if e.get("blocking") else 0)


def _expectations_lines(report: DeliveryReport, first_n: int) -> list[str]:
    if not report.expectations:
        return []
    rows = []
    for e in report.expectations:
        meta = e["metadata"]
        state = "passed" if e["passed"] else ("BLOCKING" if e["blocking"] else "warnings")
        rows.append([e["entity"], state, meta.get("expectations_evaluated", 0),
                     _suite_errors(e) if not e["passed"] else 0,
                     meta.get("failed_warn", 0)])
    lines = ["", "Expectation suites"] + text_table(["entity", "result", "evaluated", "errors", "warnings"],
                                                    rows,
                                                      {2, 3, 4})
    failed = [(e["entity"], r) for e in report.expectations for r in e["metadata"].get("results", [])
              if not r.get("success", True)]
    if failed:
        lines += ["", "Failed expectations"]
        shown = [[entity, r["rule"], r["severity"].upper(), f"{r.get('unexpected_count', 0):,}",
                  f"{r.get('element_count', 0):,}", _examples(r)] for entity, r in failed[: first_n * 4]]
        lines += text_table(["entity", "expectation", "severity", "unexpected", "of",
                             "examples (line / sourcedId / value)"],
                            shown, {3, 4})
        if len(failed) > len(shown):
            lines.append(f"  ... and {len(failed) - len(shown)} more")
    return lines


def verdict(report: DeliveryReport) -> str:
    """One line whose numbers add up: errors = contract errors + blocking expectation failures."""
    contract_errors = len(report.errors)
    suites = list(report.blocking_expectations)
    expectation_errors = sum(_suite_errors(e) for e in suites)
    finding_warnings = sum(1 for f in report.findings if f.severity == "warning")
    expectation_warnings = sum(int(e["metadata"].get("failed_warn", 0) or 0) for e in report.expectations)
    errors, warnings = contract_errors + expectation_errors, finding_warnings + expectation_warnings
    text = f"Result: {'OK' if report.ok else 'FAILED'} - {_n(errors, 'error')}"
    if report.expectations:
        text += (f" ({contract_errors} contract, {_n(expectation_errors, 'failed expectation')} in "
                 f"{_n(len(suites), 'blocking suite')})")
    text += f", {_n(warnings, 'warning')}"
    if report.expectations:
        text += f" ({finding_warnings} findings, {expectation_warnings} expectations)"
    return text


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def to_text(report: DeliveryReport, customer: str | None = None, first_n: int = 5) -> str:
    head = f"Delivery {printable(str(report.path))}" + (f" (customer {customer})" if customer else "")
    lines = [head, f"  sha256 {report.sha256 or '-'}"]
    if report.files:
        lines += _files_lines(report)
    lines += _findings_lines(report, first_n)
    lines += _expectations_lines(report, first_n)
    lines += ["", verdict(report)]
    return "\n".join(lines)
