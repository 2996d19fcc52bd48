"""Render a ``DropReport`` as readable text or JSON (never any personal-data value)."""

from __future__ import annotations

import json
from collections import defaultdict

from .drop import DropReport
from .findings import RULES, printable

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def to_json(report: DropReport, customer: str | None = None) -> str:
    data = report.to_dict()
    if customer:
        data["customer"] = customer
    data["errors"] = len(report.errors) + len(report.blocking_expectations)
    data["warnings"] = sum(1 for f in report.findings if f.severity == "warning")
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def to_text(report: DropReport, customer: str | None = None, first_n: int = 5) -> str:
    lines: list[str] = []
    head = f"Drop {printable(report.path)}"
    if customer:
        head += f" (customer {customer})"
    lines.append(head)
    lines.append(f"  sha256 {report.sha256 or '-'}")
    if report.files:
        lines.append("")
        lines.append(f"  {'file':<40} {'entity':<18} {'mode':<6} {'rows':>10} {'rejected':>9}")
        for f in report.files:
            status = "FAILED" if f.failed else ""
            lines.append(f"  {str(f.name)[:40]:<40} {f.entity:<18} {str(f.mode or '-'):<6} {f.rows:>10} {f.rejected:>9} {status}")
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for f in report.findings:
        groups[(f.severity, f.rule)].append(f)
    if groups:
        lines.append("")
        lines.append("Findings")
    for (sev, rule), items in sorted(groups.items(), key=lambda kv: (SEVERITY_ORDER.get(kv[0][0], 9), kv[0][1])):
        desc = RULES.get(rule, ("", "", ""))[2]
        lines.append(f"  {sev.upper():<7} {rule} x{len(items)}  {desc}")
        for f in items[:first_n]:
            where = ":".join(str(x) for x in (f.file, f.line) if x is not None)
            col = f" [{f.column}]" if f.column else ""
            lines.append(f"      {where}{col} {f.message}")
        if len(items) > first_n:
            lines.append(f"      ... and {len(items) - first_n} more")
    if report.expectations:
        lines.append("")
        lines.append("Expectation suites")
        for e in report.expectations:
            meta = e["metadata"]
            state = "passed" if e["passed"] else ("FAILED (blocking)" if e["blocking"] else "failed (warnings)")
            lines.append(f"  {e['entity']:<18} {state:<18} {meta.get('expectations_evaluated', 0)} expectations, "
                         f"{meta.get('failed_error', 0)} errors, {meta.get('failed_warn', 0)} warnings")
            if not e["passed"] and meta.get("failures_md"):
                lines.extend("      " + row for row in str(meta["failures_md"]).splitlines()[: 2 + first_n * 3])
    n_err = len(report.errors)
    n_warn = sum(1 for f in report.findings if f.severity == "warning")
    n_blocking = len(report.blocking_expectations)
    lines.append("")
    lines.append(f"Result: {'OK' if report.ok else 'FAILED'} - {n_err} errors, {n_warn} warnings"
                 + (f", {n_blocking} blocking expectation suites" if report.expectations else ""))
    return "\n".join(lines)
