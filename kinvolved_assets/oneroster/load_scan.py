"""The common path's one streaming pass: every record of the CSV typed and checked into a temp table
``t`` in file order (read in parallel; ``rowid`` is the record ordinal, so no window is needed to
number rows), then one aggregate over the table (counts, bulk/delta, repeated ``sourcedId``, date
range). Records DuckDB cannot split go to its rejects table ``rj`` with their record number."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from .column_sql import guid_broken
from .decode import MAX_LINE_BYTES, Header, scan_lines, transcode_to_utf8
from .discover import DeliveryFile
from .findings import finding
from .load_plan import LoadPlan, csv_scan
from .row_findings import transcoded

if TYPE_CHECKING:
    from .load import LoadResult


@dataclass
class Scanned:
    path: Path                   # the CSV read (the file itself, or its UTF-8 copy)
    n_lines: int                 # physical lines
    rj_lines: list[int]          # record numbers DuckDB could not split


def _first_pass(con, plan: LoadPlan, path: Path, again: bool = False) -> None:
    """Every record, typed and checked, into a table in file order (rowid = record ordinal - 1).
    Parallel, unlike numbering rows with a window over the scan."""
    if again:
        for t in ("rj", "rs", "t"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    con.execute(f"""CREATE TEMP TABLE t AS SELECT {plan.kcols}, {plan.ok_expr} AS _ok
                    FROM (SELECT *, {plan.typed_inner} FROM {csv_scan(path, plan.ncols)})""")


def scan_file(con, plan: LoadPlan, df: DeliveryFile, hdr: Header, tmpdir: Path,
              res: LoadResult) -> Scanned | None:
    """The table ``t`` of the file's records; None (``res`` failed, with the finding) when the file
    cannot be read."""
    member = df.member_name
    path = df.path
    # the limits, before DuckDB reads anything: a line over MAX_LINE_BYTES may vanish in DuckDB
    n_lines, too_long = scan_lines(df.path)
    if too_long is not None:
        res.failed = True
        res.findings.append(finding(
            "file.record_too_long",
            f"line {too_long} is longer than {MAX_LINE_BYTES:,} bytes, the limit for one line; nothing was "
            "loaded. Check the line breaks (a file with none?) and quoting.", file=member, line=too_long))
        return None
    if hdr.encoding != "utf-8":
        path = tmpdir / "utf8.csv"
        res.findings.append(transcoded(member, transcode_to_utf8(df.path, path)))
    try:
        _first_pass(con, plan, path)
        rj_rows = con.execute("SELECT DISTINCT line, error_type = 'INVALID ENCODING' FROM rj").fetchall()
        if any(enc for _, enc in rj_rows) and path == df.path:
            path = tmpdir / "utf8.csv"
            res.findings.append(transcoded(member, transcode_to_utf8(df.path, path)))
            _first_pass(con, plan, path, again=True)
            rj_rows = con.execute("SELECT DISTINCT line, false FROM rj").fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException):
        res.failed = True
        res.findings.append(finding(
            "file.read_error",
            "the file cannot be parsed as comma-separated CSV (check quotes and delimiter).",
            file=member))
        return None
    _check_deferred_guids(con, plan)
    return Scanned(path, n_lines, sorted({int(line) for line, _ in rj_rows}))


def _check_deferred_guids(con, plan: LoadPlan) -> None:
    """Large files: the GUID shape of reference columns, once per distinct value of the good rows."""
    deferred, knames = plan.deferred, plan.knames
    if not deferred:
        return
    bad_guids = con.execute(" UNION ALL ".join(
        f"SELECT {j} AS j, v FROM (SELECT {knames[d]} AS v FROM t WHERE _ok AND {knames[d]} IS NOT NULL "
        f"GROUP BY 1) WHERE {guid_broken('v')}" for j, d in enumerate(deferred))).fetchall()
    for j, d in enumerate(deferred):
        values = [v for jj, v in bad_guids if jj == j]
        if values:
            con.execute(f"UPDATE t SET _ok = false WHERE {knames[d]} IN (SELECT unnest(?::VARCHAR[]))",
                        [values])


@dataclass
class Counts:
    n_all: int
    n_good: int
    n_status: int
    n_dlm: int
    n_repeat: int                # good rows whose sourcedId hash repeats (0: no repeats)
    min_date: object
    max_date: object


def count_rows(con, plan: LoadPlan) -> Counts:
    """One pass over the table: counts, bulk/delta, repeated ids, date range (repeated sourcedIds:
    distinct 64-bit hashes counted first; a repeat is looked at only if one exists)."""
    knames = plan.knames
    sid_k = knames["sourcedId"]
    ok = "FILTER (WHERE _ok)"
    span = (f", min({knames['date']}) {ok}, max({knames['date']}) {ok}" if plan.ent.name == "attendance"
            else ", NULL, NULL")
    n_all, n_good, n_status, n_dlm, n_repeat, min_date, max_date = con.execute(
        f"""SELECT count(*), count(*) {ok}, count({knames['status']}) {ok},
                   count({knames['dateLastModified']}) {ok}, count({sid_k}) {ok} - count(DISTINCT
                       hash({sid_k})) {ok}{span} FROM t""").fetchone()
    return Counts(int(n_all), int(n_good), n_status, n_dlm, n_repeat, min_date, max_date)
