"""Load one OneRoster+ CSV into typed raw Parquet (plus the _files row and the rejects).

Everything runs in the process's throwaway in-memory DuckDB (``scratch.py``; one cursor per file,
its temp tables gone when the file is done), never in the warehouse connection.

Common path: ``read_csv`` with every column VARCHAR -> explicit casts and checks in SQL -> a temp
table in file order (read in parallel; ``rowid`` is the record ordinal, so no window is needed
to number rows) -> one aggregate over the table (counts, bulk/delta, repeated ``sourcedId``, date
range) -> good rows COPY'd to Parquet once, with their line numbers. Records DuckDB cannot split
(wrong field count, broken quotes) go to its rejects table with their record number. On large
files the GUID shape of reference columns is checked once per distinct value.

Rare path, only when rows were rejected or a sourcedId repeats: a second parallel pass over the CSV
collects those rows with their original values (first rule broken, ``rule|column``) and pairs each
with its record number in the table by its typed values (two refused rows that read alike but
differ in their raw text are numbered by one ordered scan instead). Records spanning several lines
or lines DuckDB could not split only correct the line numbers before the Parquet is written.

Line numbers: ``_line`` is the CSV line on which the record starts (header = line 1). When no
quoted field contains a line break and there are no blank lines, that is record ordinal + 1. When
the physical line count shows otherwise, the record -> line map is computed once with Python's csv
module.

The steps live in rooms of their own: ``header_map`` (the header against the contract),
``column_sql`` and ``load_plan`` (the SQL per column and per file), ``load_scan`` (the one pass and
its aggregate), ``load_mode`` (bulk or delta), ``load_refused`` (the rare path), ``line_numbers``,
``load_write`` (Parquet, rejects, ``_files``, the partition swap) and ``row_findings``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..diskspace import is_disk_full
from ..paths import partition_dirs
from ..sql import string as _lit
from . import spec
from .decode import Header, read_header
from .discover import DeliveryFile, DeliveryLimits
from .findings import Finding, finding
from .header_map import ColumnMap, map_header
from .line_numbers import LineNumbers, number_lines
from .load_mode import decide_mode
from .load_plan import LoadPlan, build_plan
from .load_refused import collect_refused, duplicate_keys
from .load_scan import Scanned, count_rows, scan_file
from .load_write import stage_partition, swap_partition, write_files_row, write_raw, write_rejects
from .row_findings import row_findings
from .scratch import private_database, scratch_cursor


@dataclass
class LoadResult:
    entity: str
    file_name: str | None = None
    sha256: str | None = None
    mode: str | None = None
    rows: int = 0
    rejected_rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    parquet_path: Path | None = None
    rejects_path: Path | None = None
    min_date: str | None = None
    max_date: str | None = None
    failed: bool = False
    present: bool = True
    files_path: Path | None = None
    oneroster_version: str = "1.1"   # the contract version the file was read under

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]



# Files from this size on take the paths that pay off on large files only (reference ids checked per
# distinct value); nightly files are far below it.
LARGE_FILE_BYTES = 8 << 20


def load_memory_limit(limits: DeliveryLimits, size: int) -> str:
    """DuckDB's memory limit for loading a large file of ``size`` bytes (see ``DeliveryLimits``)."""
    cap = _bytes(limits.memory_limit)
    want = max(limits.load_memory_floor, int(size * limits.load_memory_factor))
    return f"{min(cap, want) // 1024**2}MiB" if cap else limits.memory_limit


def _bytes(setting: str) -> int | None:
    """'4GB' / '300MB' / '2GiB' -> bytes (None when it cannot be read)."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B)\s*", str(setting), re.IGNORECASE)
    if not m:
        return None
    unit = m.group(2).upper()
    base = 1024 if "I" in unit else 1000
    return int(float(m.group(1)) * base ** "BKMGT".index(unit[0]))


def _connect(limits: DeliveryLimits, size: int, tmpdir: Path) -> duckdb.DuckDBPyConnection:
    """Own connection (own temp tables) on the process's throwaway in-memory DuckDB; a large file
    gets a database of its own, closed (memory given back) when the file is done."""
    if size >= LARGE_FILE_BYTES:
        spill = tmpdir / "spill"
        spill.mkdir(exist_ok=True)
        return private_database(limits.threads, load_memory_limit(limits, size), str(spill))
    return scratch_cursor(limits.threads, limits.memory_limit)


def load_file(ent: spec.Entity, df: DeliveryFile, out_root: Path, delivery_date: str, limits: DeliveryLimits,
              file_findings: list[Finding] | None = None) -> LoadResult:
    res = LoadResult(entity=ent.name, file_name=df.member_name, sha256=df.sha256)
    res.findings.extend(file_findings or [])
    member = df.member_name
    hdr, fnd = read_header(df.path, member)
    res.findings.extend(fnd)
    if hdr is None:
        res.failed = True
        return res
    cmap, fnd = map_header(ent, hdr.names, member)
    res.findings.extend(fnd)
    if cmap is None:
        res.failed = True
        return res
    with tempfile.TemporaryDirectory(prefix="kv-load-") as tmpdir:
        try:
            return _load(ent, df, hdr, cmap, out_root, delivery_date, limits, res, Path(tmpdir))
        except Exception as exc:  # noqa: BLE001 - never let a data problem escape as an exception
            if is_disk_full(exc):   # our disk, not the district's file
                raise
            res.failed = True
            res.findings.append(finding("file.internal_error",
                                        f"{member} could not be loaded ({type(exc).__name__}); nothing was "
                                        "written.", file=member))
            return res



def _load(ent, df, hdr: Header, cmap: ColumnMap, out_root: Path, delivery_date: str, limits: DeliveryLimits,
          res: LoadResult, tmpdir: Path) -> LoadResult:
    """Common path: ONE streaming pass CSV -> typed Parquet of the good rows. A second pass over the CSV
    happens only when the file has rejected rows, duplicate sourcedIds or multi-line records."""
    con = _connect(limits, df.size, tmpdir)
    try:
        plan = build_plan(ent, cmap, len(hdr.names), big=df.size >= LARGE_FILE_BYTES)
        finals = partition_dirs(out_root, ent.name, delivery_date)
        staged: list[Path] = []
        try:
            raw_tmp = stage_partition(finals[0])
            staged.append(raw_tmp)
            scanned = scan_file(con, plan, df, hdr, tmpdir, res)
            if scanned is None:
                shutil.rmtree(raw_tmp, ignore_errors=True)
                return res
            files_tmp, rej_tmp = _check_and_write(con, plan, df, hdr, scanned, finals, raw_tmp, staged,
                                                  delivery_date, limits, res)
        except BaseException:
            for tmp in staged:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        # ---- publish: each partition swapped only now that all are complete
        raw_final, files_final, rej_final = finals
        swap_partition(raw_tmp, raw_final)
        swap_partition(files_tmp, files_final)
        swap_partition(rej_tmp, rej_final)
        res.parquet_path = raw_final / "part-0.parquet"
        res.files_path = files_final / "part-0.parquet"
        return res
    finally:
        con.close()


def _refused_rows(con, plan: LoadPlan, scanned: Scanned, n_all: int, n_good: int,
                  n_dupkeys: int) -> tuple[int, int, LineNumbers]:
    """(refused rows, of which repeated sourcedIds, line numbering); the rare path only when needed."""
    rj_lines = scanned.rj_lines
    clean = not rj_lines and not n_dupkeys and n_all == n_good and scanned.n_lines == n_good + 1
    n_bad = n_dup_rows = 0
    lines = LineNumbers()
    if not clean and (n_all != n_good or n_dupkeys):
        n_bad, n_dup_rows = collect_refused(con, plan, scanned.path, n_dupkeys)
    if not clean:
        n_records = n_good + (n_bad - n_dup_rows) + len(rj_lines) + 1
        lines = number_lines(con, scanned.path, scanned.n_lines, n_records, rj_lines)
    return n_bad, n_dup_rows, lines


def _check_and_write(con, plan: LoadPlan, df: DeliveryFile, hdr: Header, scanned: Scanned,
                     finals: tuple[Path, ...],
                     raw_tmp: Path, staged: list[Path], delivery_date: str, limits: DeliveryLimits,
                     res: LoadResult) -> tuple[Path, Path | None]:
    """Counts, mode, refused rows, then the raw Parquet, rejects and ``_files`` row into staged folders
    (``staged`` gets each); (files folder, rejects folder or None)."""
    ent, member = plan.ent, df.member_name
    _, files_final, rej_final = finals
    counts = count_rows(con, plan)
    declared = df.declared_mode if df.declared_mode in ("bulk", "delta") else None
    mode, fnd = decide_mode(ent, plan.cmap, hdr, declared, counts.n_good, counts.n_status, counts.n_dlm,
                            member)
    res.findings.extend(fnd)
    res.mode = mode
    n_dupkeys = duplicate_keys(con, plan, counts.n_repeat)
    n_bad, n_dup_rows, lines = _refused_rows(con, plan, scanned, counts.n_all, counts.n_good, n_dupkeys)
    rj_lines = scanned.rj_lines

    raw_path = raw_tmp / "part-0.parquet"
    write_raw(con, plan, raw_path, mode, lines, n_dup_rows, delivery_date, member)
    res.rows = counts.n_good - n_dup_rows
    n_rej = n_bad + len(rj_lines)
    rej_tmp = None
    if n_rej:
        rej_tmp = stage_partition(rej_final)
        staged.append(rej_tmp)
        write_rejects(con, plan, rej_tmp / "rejects.parquet", n_bad, rj_lines, lines)
        res.rejects_path = rej_final / "rejects.parquet"
    res.rejected_rows = n_rej
    n_records = res.rows + n_rej
    if n_rej and n_rej > limits.max_rejected_fraction * n_records:
        res.findings.append(finding(
            "file.most_rows_rejected",
            f"{n_rej} of the file's {n_records} rows were rejected (more than "
            f"{limits.max_rejected_fraction:.0%}); "
            "the delivery is blocked. Fix the rows named below and send the file again.", file=member))

    min_date, max_date = counts.min_date, counts.max_date
    if ent.name == "attendance" and res.rows:
        if n_dup_rows:   # the range above still counted the refused repeats
            min_date, max_date = con.execute(
                f'SELECT min("date"), max("date") FROM read_parquet({_lit(str(raw_path))})').fetchone()
        res.min_date = min_date.isoformat() if min_date else None
        res.max_date = max_date.isoformat() if max_date else None
    files_tmp = stage_partition(files_final)
    staged.append(files_tmp)
    write_files_row(con, ent.name, files_tmp / "part-0.parquet", delivery_date, mode, member, df.sha256,
                    res.rows, n_rej, res.min_date, res.max_date)
    res.findings.extend(row_findings(con, ent, plan.cmap, member, n_bad, rj_lines, lines.line_expr,
                                     lines.joins, limits))
    if counts.n_good == 0 and n_bad == 0 and not rj_lines:
        res.findings.append(finding("file.no_rows", f"{member} has a header but no data rows.", file=member))
    return files_tmp, rej_tmp
