"""Line numbers of loaded and refused rows: ``_line`` is the CSV line on which a record starts
(header = line 1). Without multi-line records, blank lines or records DuckDB could not split that is
the record ordinal + 1; otherwise the ordinals are shifted past the skipped records and, when the
physical line count shows it, mapped to lines once with Python's csv module."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


def _line_map(path: Path, encoding: str) -> list[int]:
    """Start line of every non-blank record (index 0 = header)."""
    starts: list[int] = []
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh, strict=False)
        prev_end = 0
        try:
            for row in reader:
                if row and any(cell != "" for cell in row) or (row and len(row) > 1):
                    starts.append(prev_end + 1)
                prev_end = reader.line_num
        except csv.Error:
            pass
    return starts



@dataclass
class LineNumbers:
    """SQL over the table's rows ``s`` (``s._rn`` = record ordinal): the record number, the line, and
    the joins both need."""
    rec_expr: str = "(s._rn + 1)"
    line_expr: str = "(s._rn + 1)"
    joins: str = ""
    line_map: list[int] | None = None


def number_lines(con, path: Path, n_lines: int, n_records: int, rj_lines: list[int]) -> LineNumbers:
    """The line numbering of a file that is not clean (temp tables ``skip_adj`` and ``lmap``)."""
    out = LineNumbers()
    if n_lines != n_records:
        out.line_map = _line_map(path, "utf-8-sig")
        if len(out.line_map) < n_records:
            out.line_map = None
    if rj_lines:
        adj = list({r - 2 - i: i + 1 for i, r in enumerate(rj_lines)}.items())
        con.execute("CREATE TEMP TABLE skip_adj(a BIGINT, m BIGINT)")
        con.executemany("INSERT INTO skip_adj VALUES (?, ?)", adj)
        out.rec_expr = "(s._rn + 1 + coalesce(sk.m, 0))"
        out.joins += " ASOF LEFT JOIN skip_adj sk ON s._rn - 1 >= sk.a"
    out.line_expr = out.rec_expr
    if out.line_map is not None:
        con.execute("CREATE TEMP TABLE lmap(rec BIGINT, line BIGINT)")
        con.execute("INSERT INTO lmap SELECT generate_subscripts(l, 1), unnest(l) FROM (SELECT ?::BIGINT[] "
                    "AS l)",
                    [out.line_map])
        out.joins += f" LEFT JOIN lmap lm ON lm.rec = {out.rec_expr}"
        out.line_expr = f"coalesce(lm.line, {out.rec_expr})"
    return out
