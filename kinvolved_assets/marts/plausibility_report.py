"""The plausibility results of a marts build recorded in the validation report of the customer's latest
delivery (its JSON, and the HTML rendered again from it)."""

from __future__ import annotations

import json
from pathlib import Path


def _report_order(path: Path) -> tuple[str, int]:
    folder = path.parent
    if folder.name.startswith("seq=") and folder.name[4:].isdigit():
        return folder.parent.name, int(folder.name[4:])
    return folder.name, 0


def record_in_latest_report(reports: Path, run_id: str, results) -> Path | None:
    """Add the results to the validation report of the latest delivery (JSON + HTML re-rendered)."""
    from kinvolved_assets.expectations.report import current_keys, render_html, write_text_atomically

    # reports/<date>/ (the first delivery of a date) and reports/<date>/seq=<N>/ (a later one of that date)
    found = [*reports.glob("*/validation.json"),
             *reports.glob("*/seq=*/validation.json")] if reports.is_dir() else []
    candidates = sorted(found, key=_report_order)
    if not candidates:
        return None
    path = candidates[-1]
    data = current_keys(json.loads(path.read_text(encoding="utf-8")))
    data["marts_checks"] = {"run_id": run_id, "results": [
        {"name": r.name, "mart": r.mart, "severity": r.severity, "passed": r.passed,
         "description": r.description}
        for r in results]}
    write_text_atomically(path, json.dumps(data, indent=2, default=str))
    write_text_atomically(path.with_name("validation.html"), render_html(data))
    return path
