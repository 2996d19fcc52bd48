"""The human-readable validation report of a delivery: ``reports/<date>/validation.html`` (+ ``.json``).

Rendered here from plain data (no template engine, every value HTML-escaped). Same rule as the check
metadata: no value of a personal-data column ever appears; findings of the reader are already
free of them, expectation examples carry line numbers and sourcedIds only for personal columns.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from pathlib import Path

from kinvolved_assets.permissions import write_private

from .results import engine_error_text
from .validator import CHECK_NAME, REPORT_FILE, REPORT_JSON

MAX_FINDINGS_PER_ENTITY = 50

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:75rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ERROR,.error,.BLOCKED,.FAILED{color:#b42318;font-weight:600}.WARN,.warning{color:#9a6700;font-weight:600}
.ok,.PROMOTED,.passed{color:#1a7f37;font-weight:600}code{font-size:.85rem}
.muted{color:#57606a}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):           # (text, css class)
                cells.append(f"<td class='{_e(cell[1])}'>{_e(cell[0])}</td>")
            else:
                cells.append(f"<td{' class=n' if i in numeric else ''}>{_e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _finding(f) -> dict:
    d = f.to_dict() if hasattr(f, "to_dict") else dict(f)
    return {k: d.get(k) for k in ("severity", "file", "line", "column", "rule", "message")}


def report_data(outcome, ctx=None) -> dict:
    """Everything the report shows, as JSON-able data."""
    entities = []
    for name, eo in outcome.entities.items():
        res = eo.result
        checks = []
        expectations = []
        for c in eo.checks:
            checks.append({"name": c.name, "passed": c.passed, "blocking": c.blocking,
                           "description": c.description})
            if c.name == CHECK_NAME:
                expectations = list(c.metadata.get("results", []))
        entities.append({
            "entity": name,
            "present": eo.present,
            "file_name": getattr(res, "file_name", None),
            "mode": getattr(res, "mode", None),
            "rows": int(getattr(res, "rows", 0) or 0),
            "rejected_rows": int(getattr(res, "rejected_rows", 0) or 0),
            "failed": bool(getattr(res, "failed", False)),
            "blocked": eo.blocked,
            "checks": checks,
            "findings": [_finding(f) for f in list(getattr(res, "findings", []) or [])],
            "expectations": expectations,
        })
    return {
        "customer": outcome.customer_id,
        "delivery_date": outcome.delivery_date,
        "delivery_file": Path(outcome.delivery_path).name if outcome.delivery_path else None,
        "delivery_sha256": outcome.delivery_sha256,
        "promoted": bool(outcome.promoted),
        "blocking": outcome.blocking_summary(),
        "seconds": round(float(outcome.seconds or 0), 3),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": getattr(ctx, "run_id", None),
        "delivery_findings": [_finding(f) for f in outcome.delivery_findings],
        "entities": entities,
    }


def _examples_text(ex: dict) -> str:
    if ex.get("error"):
        return engine_error_text(ex["error"], ex.get("column"), ex.get("description", ""))
    parts = []
    for e in ex.get("examples", []):
        bits = [f"line {e['line']}" if "line" in e else None, e.get("sourcedId"), e.get("value")]
        parts.append(" / ".join(str(b) for b in bits if b is not None))
    text = "; ".join(parts)
    if ex.get("detail"):
        text = (text + " " if text else "") + ", ".join(f"{k}={v}" for k, v in ex["detail"].items())
    if ex.get("skipped"):
        text = f"not evaluated: {ex['skipped']}"
    return text


# reports written before "delivery" was the one word for what a district sends name three keys after
# the old word; a report read back (the marts' plausibility results are added to the latest one) is
# rendered under the current keys
KEYS_BEFORE_RENAME = {"drop": "delivery_file", "drop_sha256": "delivery_sha256",
                      "drop_findings": "delivery_findings"}


def current_keys(data: dict) -> dict:
    """``data`` with the keys of a report written before the rename under their current names."""
    return {(KEYS_BEFORE_RENAME.get(k, k) if KEYS_BEFORE_RENAME.get(k, k) not in data else k): v
            for k, v in data.items()}


def render_html(data: dict) -> str:
    data = current_keys(data)
    status = "PROMOTED" if data["promoted"] else "BLOCKED"
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Validation {_e(data['customer'])} "
        f"{_e(data['delivery_date'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Delivery {_e(data['delivery_date'])} of {_e(data['customer'])}: <span "
        f"class='{status}'>{status}</span></h1>",
        f"<p>Delivery <code>{_e(data['delivery_file'])}</code>, "
        f"sha256 <code>{_e(data['delivery_sha256'])}</code>; "
        f"ingested in {_e(data['seconds'])} s; report generated {_e(data['generated_at'])}.</p>",
    ]
    if not data["promoted"]:
        out.append(f"<p class='BLOCKED'>Blocked by: {_e(data['blocking'])}. The previous marts stay as they "
                   "were.</p>")
    out.append("<p class='muted'>Personal data (names, usernames, e-mails, phones, birth dates, comments) is "
               "never "
               "shown: failures on those columns are reported as counts, line numbers and sourcedIds.</p>")
    out.append("<h2>Files</h2>")
    rows = []
    for e in data["entities"]:
        checks = {c["name"]: c for c in e["checks"]}

        def cell(name, checks=checks):
            c = checks.get(name)
            if c is None:
                return ("-", "muted")
            if c["passed"]:
                return ("passed", "passed")
            return ("FAILED" if c["blocking"] else "warning", "FAILED" if c["blocking"] else "WARN")

        rows.append([e["entity"], e["file_name"] or "(not in delivery)", e["mode"] or "-", e["rows"],
                     e["rejected_rows"],
                     cell("contract"), cell(CHECK_NAME)])
    out.append(_table(["entity", "file", "mode", "rows", "rejected", "contract", "expectations"], rows,
                      {3, 4}))
    out.append("<h2>Delivery findings</h2>")
    out.append(_table(["severity", "rule", "file", "message"],
                      [[(f["severity"], f["severity"]), f["rule"], f["file"],
                        f["message"]] for f in data["delivery_findings"]]))
    for e in data["entities"]:
        if not e["present"] and not e["findings"]:
            continue
        out.append(f"<h2>{_e(e['entity'])} <span "
                   f"class='muted'>({_e(e['file_name'] or 'not in delivery')})</span></h2>")
        failed = [x for x in e["expectations"] if not x.get("success", True)]
        passed = [x for x in e["expectations"] if x.get("success", True) and x.get("evaluated", True)]
        skipped = [x for x in e["expectations"] if not x.get("evaluated", True)]
        out.append(f"<h3>Expectations: {len(passed)} passed, {len(failed)} failed, {len(skipped)} not "
                   "evaluated</h3>")
        out.append(_table(["expectation", "severity", "unexpected", "of",
                           "examples (line / sourcedId / value)"],
                          [[x["rule"], (x["severity"], x["severity"]), x["unexpected_count"],
                            x["element_count"],
                            _examples_text(x)] for x in failed], {2, 3}))
        if skipped:
            out.append(_table(["not evaluated", "why"], [[x["rule"], x.get("skipped")] for x in skipped]))
        findings = e["findings"]
        out.append(f"<h3>Contract findings ({len(findings)})</h3>")
        out.append(_table(["severity", "rule", "line", "column", "message"],
                          [[(f["severity"], f["severity"]), f["rule"], f["line"], f["column"], f["message"]]
                           for f in findings[:MAX_FINDINGS_PER_ENTITY]]))
        if len(findings) > MAX_FINDINGS_PER_ENTITY:
            out.append(f"<p class='muted'>... and {len(findings) - MAX_FINDINGS_PER_ENTITY} more (see "
                       "validation.json).</p>")
        if passed:
            out.append("<details><summary>Passed expectations</summary>")
            out.append(_table(["expectation", "severity", "rows checked", "description"],
                              [[x["rule"], x["severity"], x["element_count"],
                                x["description"]] for x in passed], {2}))
            out.append("</details>")
    if data.get("marts_checks"):
        out.extend(_marts_checks_html(data["marts_checks"]))
    out.append("</body></html>")
    return "\n".join(out)


def _marts_checks_html(checks: dict) -> list[str]:
    """The plausibility checks of the marts build that followed this delivery (added afterwards)."""
    rows = [[r["mart"], r["name"], ("passed", "passed") if r["passed"] else
             (r["severity"].upper(), "ERROR" if r["severity"] == "error" else "WARN"), r["description"]]
            for r in checks.get("results", [])]
    return ["<h2>Marts built after this delivery</h2>",
            f"<p class='muted'>Plausibility checks of marts run <code>{_e(checks.get('run_id'))}</code> "
            "(non-blocking: the marts are published; a failure says the figures are not believable).</p>",
            _table(["mart", "check", "result", "detail"], rows)]


def _write(path: Path, text: str) -> None:
    write_private(path, text)   # 0600 in a 0700 folder, like the rest of the customer's tree


write_text_atomically = _write


def _report_dir(ctx, outcome) -> Path:
    """The delivery's own folder (a later delivery of the same date: ``reports/<date>/seq=<N>/``)."""
    folder = getattr(ctx, "report_dir", None)
    return folder if isinstance(folder, Path) else ctx.paths.report_dir(outcome.delivery_date)


def write_report(outcome, ctx=None, out_dir: Path | None = None) -> Path:
    data = report_data(outcome, ctx)
    folder = out_dir or _report_dir(ctx, outcome)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / REPORT_JSON, json.dumps(data, indent=2, default=str))
    path = folder / REPORT_FILE
    _write(path, render_html(data))
    return path


def delivery_reporter(outcome, ctx) -> Path:
    """``ingest.Reporter``: write ``reports/<date>/validation.html`` + ``validation.json`` (a later
    delivery of the same date: ``reports/<date>/seq=<N>/``).

    Runs after promotion (or quarantine): a rendering problem must not turn a delivery into a failed
    run, so it is logged and a one-line report naming the problem is written instead.
    """
    try:
        return write_report(outcome, ctx)
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).exception("validation report of %s could not be rendered",
                                              outcome.delivery_date)
        folder = _report_dir(ctx, outcome)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPORT_FILE
        _write(path,
               f"<!doctype html><p>The validation report could not be rendered ({_e(type(exc).__name__)}); "
                     "see the asset check metadata.</p>")
        return path
