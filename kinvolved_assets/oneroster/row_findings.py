"""Findings about a loaded file's rows and bytes: decoding repairs, records DuckDB could not split,
and refused rows (a capped sample per rule, values quoted only when they cannot be personal data)."""

from __future__ import annotations

from ..sql import string as _lit
from . import spec
from .decode import Transcoded
from .discover import DeliveryLimits
from .findings import RULES, Finding, finding, quote_value, safe_value
from .header_map import ColumnMap


def transcoded(member: str, stats: Transcoded) -> Finding:
    """What decoding a file that is not all valid UTF-8 did, by the evidence of its lines."""
    if stats.mixed:
        lines = ", ".join(str(n) for n in stats.bad_lines[:5]) + (
            f" and {stats.n_bad - 5} more" if stats.n_bad > 5 else "")
        return finding("file.encoding_repaired",
                       f"the file is UTF-8 except {stats.n_bad} line(s) ({lines}); those lines were read as "
                       "Windows-1252, the rest as UTF-8. Check them and save the file as UTF-8.",
                       file=member, line=stats.bad_lines[0] if stats.bad_lines else None)
    return finding("file.encoding_fallback",
                   "the file is not valid UTF-8; it was read as Windows-1252. Save it as UTF-8.", file=member)


DATE_CHARS = set("0123456789-/:.TZ +")


def _harmless(col: spec.Column, value: object) -> bool:
    """A refused value that cannot be personal data: a date-like value of a non-personal date column
    (the header is intact: the file loaded) or an enumeration member."""
    if col.pii or value is None:
        return False
    if col.type in ("date", "datetime", "year"):   # only digits and date/time separators: never a name
        return len(str(value)) <= 35 and set(str(value)) <= DATE_CHARS
    return bool(col.enum) and str(value).lower() in {v.lower() for v in col.enum}


MALFORMED = {"TOO MANY COLUMNS": "has more fields than the header",
             "MISSING COLUMNS": "has fewer fields than the header",
             "UNQUOTED VALUE": "has a quote inside an unquoted field",
             "LINE SIZE OVER MAXIMUM": "is longer than 10 MB",
             "INVALID ENCODING": "has bytes that are not valid text"}


def _malformed_findings(con, member: str, rj_lines: list[int], cap: int) -> list[Finding]:
    """Records DuckDB could not split (table ``rjl``), by physical line."""
    out: list[Finding] = []
    rows = con.execute(f"""SELECT pline AS l, error_type, column_name FROM
            (SELECT *, row_number() OVER (PARTITION BY line ORDER BY byte_position) AS k FROM rjl) WHERE k = 1
            ORDER BY l LIMIT {cap}""").fetchall()
    for line, etype, _ in rows:
        what = MALFORMED.get(etype, "cannot be split into fields")
        out.append(finding("row.malformed",
                           f"line {line} {what}; the row was rejected. "
                           "Quote fields containing commas, quotes or line breaks.", file=member,
                           line=int(line)))
    if len(rj_lines) > cap:
        out.append(finding("rows.truncated",
                           f"{len(rj_lines) - cap} more malformed rows (total {len(rj_lines)}); all are in "
                           "rejects.",
                           file=member, severity="info"))
    return out


def row_findings(con, ent: spec.Entity, cmap: ColumnMap, member: str, n_bad: int, rj_lines: list[int],
                 line_expr: str, joins: str, limits: DeliveryLimits) -> list[Finding]:
    cap = limits.max_findings_per_rule
    out: list[Finding] = _malformed_findings(con, member, rj_lines, cap) if rj_lines else []
    if not n_bad:
        return out
    counts = con.execute("SELECT _rule, count(*) FROM src GROUP BY 1 ORDER BY 1").fetchall()
    pii = set(ent.pii_columns)
    value_of = " ".join(f"WHEN {_lit(c)} THEN s.c{i}" for c, i in cmap.sources.items())
    sample = con.execute(f"""
        SELECT _rule, line, val FROM (
            SELECT s._rule, CAST({line_expr} AS BIGINT) AS line,
                   row_number() OVER (PARTITION BY s._rule ORDER BY s._rn) AS k,
                   CASE split_part(s._rule, '|', 2) {value_of} END AS val
            FROM src s{joins})
        WHERE k <= {cap} ORDER BY _rule, line""").fetchall()
    for rule_col, line, val in sample:
        rule, col = rule_col.split("|", 1)
        desc = RULES[rule][2]
        if rule == "row.required_missing":
            msg = f"line {line}: {col} is required but blank; the row was rejected."
        elif rule == "row.duplicate_sourced_id":
            msg = (f"line {line}: sourcedId {quote_value(val, pii=False)} was already used on an earlier "
                   "line; this row was rejected.")
        elif col in pii:
            msg = f"line {line}: {col} {quote_value(val, pii=True)} - {desc} The row was rejected."
        else:
            shown = safe_value(val, pii_file=bool(pii), harmless=_harmless(ent.column(col), val))
            msg = f"line {line}: {col} {shown} - {desc} The row was rejected."
        out.append(finding(rule, msg, file=member, line=int(line), column=col))
    for rule_col, cnt in counts:
        if cnt > cap:
            rule, col = rule_col.split("|", 1)
            out.append(finding("rows.truncated",
                               f"{cnt - cap} more rows broke {rule} on {col} (total {cnt}); all are in "
                               "rejects.",
                               file=member, column=col, severity="info"))
    return out
