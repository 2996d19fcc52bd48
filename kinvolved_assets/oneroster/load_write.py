"""What loading one file writes: the raw Parquet of the good rows (file order, written once), the
rejects (refused rows with their original values and reason, and the records DuckDB could not split),
the file's ``_files`` row; each into a staged folder swapped in place of its partition at the end."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from ..sql import ident as _q
from ..sql import string as _lit
from .findings import RULES
from .line_numbers import LineNumbers
from .load_plan import LoadPlan

# Raw Parquet options: snappy, dictionary encoding for strings whose dictionary page stays under 64 KiB
# (codes, school and class ids); high-cardinality ids (sourcedId, userSourcedId) give up on a
# dictionary after 64 KiB instead of DuckDB's 1 MiB (same files, 0.2 s less on a 10 M-row file).
RAW_PARQUET_OPTIONS = "FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536"


def stage_partition(final_dir: Path) -> Path:
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = final_dir.parent / f".tmp-{final_dir.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def swap_partition(tmp: Path | None, final_dir: Path) -> None:
    """Put ``tmp`` in place of ``final_dir`` (None: remove final_dir); old data removed last."""
    old = None
    if final_dir.exists():
        old = final_dir.parent / f".old-{final_dir.name}-{uuid.uuid4().hex[:8]}"
        os.replace(final_dir, old)
    if tmp is not None:
        os.replace(tmp, final_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_raw(con, plan: LoadPlan, raw_path: Path, mode: str, lines: LineNumbers, n_dup_rows: int,
              delivery_date: str, member: str) -> None:
    """The good rows, less the repeated sourcedIds, in file order."""
    where = " AND s._rn NOT IN (SELECT _rn FROM src WHERE _rule LIKE 'row.duplicate%')" if n_dup_rows else ""
    order = " ORDER BY s._rn" if lines.joins else ""
    con.execute(f"""COPY (SELECT {plan.typed_select(mode, lines.line_expr, delivery_date, member)}
                    FROM (SELECT *, rowid + 1 AS _rn FROM t WHERE _ok) s{lines.joins} WHERE
                        true{where}{order})
                    TO {_lit(str(raw_path))} ({RAW_PARQUET_OPTIONS})""")


def write_rejects(con, plan: LoadPlan, rej_path: Path, n_bad: int, rj_lines: list[int],
                  lines: LineNumbers) -> None:
    """The refused rows (table ``src``) and the records DuckDB could not split (table ``rj``, as ``rjl``
    with their physical lines), by line."""
    ncols, names = plan.ncols, plan.cmap.file_names
    orig = ", ".join(f"s.c{i} AS {_q(names[i])}" for i in range(ncols))
    nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {_q(names[i])}" for i in range(ncols))
    reason_case = "CASE " + " ".join(
        f"WHEN split_part(s._rule, '|', 1) = {_lit(r)} THEN {_lit(RULES[r][2])}"
        for r in RULES if r.startswith("row.")
    ) + " END"
    parts = []
    if n_bad:
        parts.append(f"""SELECT {orig}, CAST({lines.line_expr} AS BIGINT) AS _line,
            split_part(s._rule, '|', 1) AS _rule,
            split_part(s._rule, '|', 2) || ': ' || {reason_case} AS _reason, CAST(NULL AS VARCHAR) AS _raw
            FROM src s{lines.joins}""")
    if rj_lines:
        if lines.line_map is not None:
            con.execute("CREATE TEMP TABLE rjl AS SELECT r.*, coalesce(lm.line, r.line) AS pline FROM rj r "
                        "LEFT JOIN lmap lm ON lm.rec = r.line")
        else:
            con.execute("CREATE TEMP TABLE rjl AS SELECT *, line AS pline FROM rj")
        parts.append(f"""SELECT {nulls}, CAST(r.pline AS BIGINT) AS _line, 'row.malformed' AS _rule,
            r.error_type || ': ' || {_lit(RULES['row.malformed'][2])} AS _reason, r.csv_line AS _raw
            FROM (SELECT *, row_number() OVER (PARTITION BY line ORDER BY byte_position) AS k FROM rjl) r
            WHERE k = 1""")
    con.execute(f"COPY ({' UNION ALL BY NAME '.join(parts)} ORDER BY _line) TO {_lit(str(rej_path))} "
                "(FORMAT parquet)")


def write_files_row(con, entity: str, files_path: Path, delivery_date: str, mode: str, member: str,
                    sha256: str | None, rows: int, rejected_rows: int, min_date: str | None,
                    max_date: str | None) -> None:
    """The file's one ``_files`` row (dbt_contract.FILES_COLUMNS)."""
    con.execute(
        f"""COPY (SELECT {_lit(entity)} AS entity, DATE {_lit(delivery_date)} AS delivery_date,
            {_lit(mode)} AS mode, {_lit(member)} AS file_name, {_lit(sha256)} AS sha256, CAST(? AS BIGINT) AS
                rows,
            CAST(? AS BIGINT) AS rejected_rows, CAST(? AS DATE) AS min_date, CAST(? AS DATE) AS max_date)
            TO {_lit(str(files_path))} (FORMAT parquet)""",
        [rows, rejected_rows, min_date, max_date],
    )
