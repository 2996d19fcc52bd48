"""The result of one rule on one delivery file, rendered without any personal value.

An example of a failing row is its CSV line number and sourcedId, plus the offending value only
when the rule's column is not personal data (``spec.Column.pii``). Personal columns are reported
as counts and line numbers only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from kinvolved_assets.oneroster import spec
from kinvolved_assets.oneroster.findings import quote_value, safe_value

from .rules import ERROR, Rule

MAX_EXAMPLES = 5
MAX_ERROR_CHARS = 300
EPOCH = dt.date(1970, 1, 1)


@dataclass
class RuleResult:
    rule: Rule
    evaluated: bool = True
    success: bool = True
    unexpected_count: int = 0
    element_count: int = 0
    examples: list[dict] = field(default_factory=list)
    error: str | None = None          # engine error: the rule failed to run (a failure, never a pass)
    skipped: str | None = None        # why the rule was not evaluated
    engine: str = ""
    detail: dict[str, Any] = field(default_factory=dict)   # rule-specific non-personal figures
    severity_override: str | None = None   # e.g. a reference only checkable against the delivery

    @property
    def failed(self) -> bool:
        return self.evaluated and (not self.success or self.error is not None)

    @property
    def severity(self) -> str:
        # an engine error is always blocking: an unverified delivery is not a valid one
        if self.error is not None:
            return ERROR
        return self.severity_override or self.rule.severity

    def add_examples(self, rows: list[dict]) -> None:
        for row in rows:
            if len(self.examples) >= MAX_EXAMPLES:
                return
            self.examples.append(safe_example(self.rule, row))

    def to_dict(self) -> dict:
        out = {
            "rule": self.rule.id,
            "kind": self.rule.kind,
            "column": self.rule.column,
            "severity": self.severity,
            "engine": self.engine or self.rule.engine,
            "evaluated": self.evaluated,
            "success": not self.failed,
            "unexpected_count": int(self.unexpected_count),
            "element_count": int(self.element_count),
            "description": self.rule.description,
        }
        if self.examples:
            out["examples"] = list(self.examples)
        if self.error:
            out["error"] = self.error
        if self.skipped:
            out["skipped"] = self.skipped
        if self.detail:
            out["detail"] = dict(self.detail)
        return out


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return value
    return value


def _as_date(value: Any) -> Any:
    """Dates travel through GX as whole days since 1970-01-01; show them as dates again."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return (EPOCH + dt.timedelta(days=int(value))).isoformat()
        except OverflowError:
            return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def safe_example(rule: Rule, row: dict) -> dict:
    """One failing row as {line, sourcedId[, value]}: never a value of a personal column."""
    out: dict[str, Any] = {}
    line = _plain(row.get("_line"))
    if line is not None:
        out["line"] = int(line)
    sid = _plain(row.get("sourcedId"))
    if sid is not None:
        out["sourcedId"] = quote_value(sid, pii=False).strip("'\"")
    if "value" in row and not rule.pii:
        value = _plain(row["value"])
        if rule.is_date and rule.kind in ("date_format", "between", "date_order"):
            value = _as_date(value)
        out["value"] = safe_value(value, pii_file=bool(spec.entity(rule.entity).pii_columns),
                                  harmless=_harmless(rule, value))
    return out


def _harmless(rule: Rule, value: Any) -> bool:
    """A value that cannot be personal data even in a file that holds some: a date of a non-personal
    date column (the file loaded, so its header is intact) or a member of the column's enumeration."""
    if rule.is_date:
        return True
    ent = spec.entity(rule.entity)
    if rule.column in ent.column_names and ent.column(rule.column).enum and value is not None:
        return str(value).lower() in {v.lower() for v in ent.column(rule.column).enum}
    return False


def short_error(exc_or_text: Any) -> str:
    """An engine failure as harmless text: our own text as is, an exception by its type only. The
    message of a DuckDB or GX exception may quote a cell value (``invalid date field format: "<a
    name>"``), so it is never shown, stored or logged; the rule, its column and the expected shape
    say what could not be checked (``engine_error_text``)."""
    if isinstance(exc_or_text, str):
        text = exc_or_text
    else:
        text = f"{type(exc_or_text).__name__} (the engine's message is not shown: it may quote a value)"
    return " ".join(text.split())[:MAX_ERROR_CHARS]


def engine_error_text(error: str, column: str | None, description: str) -> str:
    """What a rule that could not run was checking, without any value of the file."""
    where = f"column {column}, " if column else ""
    return f"engine error: {error}; {where}every line of the file; expected: {description}"


MD_SPECIAL = set("\\`*_[]!|~")   # inside a table cell: emphasis, code, links/images, cell breaks


def _md_cell(text: Any) -> str:
    """Text from a file as inert markdown: HTML, links, images, emphasis and table breaks escaped."""
    out = []
    for ch in " ".join(str(text).split()):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def failures_markdown(results: list[RuleResult]) -> str:
    failed = [r for r in results if r.failed]
    if not failed:
        return "All expectations passed."
    lines = ["| expectation | severity | unexpected | examples (line / sourcedId / value) |",
             "|---|---|---:|---|"]
    for r in failed:
        if r.error:
            ex = engine_error_text(r.error, r.rule.column, r.rule.description)
        else:
            parts = []
            for e in r.examples:
                bits = [f"line {e['line']}" if "line" in e else None, e.get("sourcedId"), e.get("value")]
                parts.append(" / ".join(str(b) for b in bits if b is not None))
            ex = "; ".join(parts)
            if r.rule.pii:
                ex = (ex + " " if ex else "") + "(personal data: values not shown)"
            if r.detail:
                ex = (ex + " " if ex else "") + ", ".join(f"{k}={v}" for k, v in r.detail.items())
        lines.append(f"| `{r.rule.id}` | {r.severity} | {r.unexpected_count} | {_md_cell(ex)} |")
    return "\n".join(lines)
