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
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..diskspace import is_disk_full
from ..paths import partition_dirs
from ..sql import ident as _q
from ..sql import string as _lit
from . import spec
from .decode import MAX_LINE_BYTES, Header, Transcoded, read_header, scan_lines, transcode_to_utf8
from .discover import DropFile, DropLimits
from .findings import RULES, Finding, describe_value, finding, quote_value, safe_value
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


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch == ".")


# ---------------------------------------------------------------- header mapping

@dataclass
class ColumnMap:
    sources: dict[str, int]            # contract column -> position in the file
    metadata: dict[str, int]           # metadata.* column -> position
    file_names: list[str]              # name used for each file position in rejects


def map_header(ent: spec.Entity, names: list[str], member: str) -> tuple[ColumnMap | None, list[Finding]]:
    out: list[Finding] = []
    names = list(names)
    if ent.name == "absence_codes":
        absent_at = [i for i, n in enumerate(names) if _norm(n) == "absent"]
        if len(absent_at) == 2 and not any(_norm(n) == "excused" for n in names):
            names[absent_at[1]] = "excused"
            out.append(finding("header.absent_twice", "the header has 'absent' twice; the second one is read as 'excused'. Rename it to excused.", file=member, line=1, column="excused"))
    by_norm = {_norm(c): c for c in ent.column_names}
    sources: dict[str, int] = {}
    metadata: dict[str, int] = {}
    file_names: list[str] = []
    unknown: list[tuple[int, str]] = []
    fatal = False
    for i, raw in enumerate(names):
        if raw == "":
            out.append(finding("header.empty_column_name", f"header cell {i + 1} is blank; every column needs a name.", file=member, line=1))
            fatal = True
            file_names.append(f"_column{i + 1}")
            continue
        if raw.lower().startswith("metadata."):
            if raw in metadata:
                out.append(finding("header.duplicate_column", f"column {raw!r} appears twice in the header.", file=member, line=1, column=raw[:80]))
                fatal = True
            metadata[raw] = i
            file_names.append(raw)
            continue
        target = raw if raw in ent.column_names else by_norm.get(_norm(raw))
        if target is None:
            unknown.append((i, raw))
            file_names.append(raw if raw not in file_names else f"{raw}_{i + 1}")
            continue
        if target != raw:
            out.append(finding("header.column_case", f"column {raw[:80]!r} read as {target!r}; use the exact name.", file=member, line=1, column=target))
        if target in sources:
            out.append(finding("header.duplicate_column", f"column {target!r} appears twice in the header (positions {sources[target] + 1} and {i + 1}).", file=member, line=1, column=target))
            fatal = True
            file_names.append(f"{target}_{i + 1}")
            continue
        sources[target] = i
        file_names.append(target)
    intact = all(col in sources for col in ent.required_columns)
    out.extend(_unknown_columns(ent, unknown, member, quote=intact or not ent.pii_columns))
    for col in ent.required_columns:
        if col not in sources:
            out.append(finding("header.missing_required_column", f"required column {col!r} is missing from the header of {ent.file_name}.", file=member, line=1, column=col))
            fatal = True
    order = [c for c in ent.column_names if c in sources]
    if not fatal and sorted(sources, key=sources.get) != order:
        out.append(finding("header.reordered", "columns are not in the contract order; they are matched by name.", file=member, line=1))
    if fatal:
        return None, out
    return ColumnMap(sources, metadata, file_names), out


def _unknown_columns(ent: spec.Entity, unknown: list[tuple[int, str]], member: str, quote: bool) -> list[Finding]:
    """Unknown header cells, by name only when the header is intact (or the file holds no personal
    data): a file sent without its header has a data row there (names, usernames)."""
    out = []
    for i, raw in unknown:
        if quote:
            out.append(finding("header.unknown_column", f"column {raw[:80]!r} is not in the {ent.file_name} contract; it is ignored.", file=member, line=1, column=raw[:80]))
        else:
            out.append(finding("header.unknown_column", f"header cell {i + 1} {describe_value(raw)} is not a {ent.file_name} column name; it is ignored. Is the header line missing?", file=member, line=1, column=f"_column{i + 1}"))
    return out


# ---------------------------------------------------------------- SQL per column type

def _enum_case(expr: str, values: tuple[str, ...], aliases: dict[str, str] | None = None,
               extensible: bool = False) -> str:
    whens = [f"WHEN {_lit(v.lower())} THEN {_lit(v)}" for v in values]
    for alias, target in (aliases or {}).items():
        whens.append(f"WHEN {_lit(alias)} THEN {_lit(target)}")
    if extensible:   # OneRoster 1.2: an ``ext:`` value is kept as sent
        whens.append(f"ELSE CASE WHEN starts_with({expr}, {_lit(spec.EXT_PREFIX)}) AND length({expr}) BETWEEN "
                     f"{len(spec.EXT_PREFIX) + 1} AND {spec.EXT_MAX_LENGTH} AND NOT contains({expr}, ',') THEN {expr} END")
    return f"CASE lower({expr}) {' '.join(whens)} END"


# GUID shape: the character class repeated, length checked apart (a bounded repeat {1,255} compiles to
# a 255-state program per column and thread, which costs more than the matching on a nightly file)
GUID_RE = spec.GUID_PATTERN.strip("^$").replace("{1,255}", "+")


def guid_broken(v: str) -> str:
    """SQL: the non-NULL value ``v`` is not a GUID (byte length: any non-ASCII character fails the class)."""
    return f"(strlen({v}) > {spec.GUID_MAX_LENGTH} OR NOT regexp_full_match({v}, {_lit(GUID_RE)}))"


def datetime_utc(v: str) -> str:
    """SQL: the ISO 8601 value ``v`` as a UTC TIMESTAMP (NULL when it is not one).

    The usual ``...T12:00:00Z`` / ``...T12:00:00.123Z`` takes the plain TIMESTAMP cast; anything with
    an offset, a zone name or a space takes the time-zone-aware cast (3x slower per value). Both give
    the same result on the fast path's values (tests/unit/test_reader_properties.py).
    """
    aware = f"CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)"
    plain_utc = (f"{v} LIKE '____-__-__T%Z' AND NOT contains({v}, ' ') AND NOT contains({v}, '+') "
                 f"AND NOT contains({v}, chr(9)) AND {v} NOT LIKE '%-%-%-%'")
    return f"CASE WHEN {plain_utc} THEN TRY_CAST({v} AS TIMESTAMP) ELSE {aware} END"

# Files from this size on take the paths that pay off on large files only (reference ids checked per
# distinct value); nightly files are far below it.
LARGE_FILE_BYTES = 8 << 20

# Raw Parquet options: snappy, dictionary encoding for strings whose dictionary page stays under 64 KiB
# (codes, school and class ids); high-cardinality ids (sourcedId, userSourcedId) give up on a
# dictionary after 64 KiB instead of DuckDB's 1 MiB (same files, 0.2 s less on a 10 M-row file).
RAW_PARQUET_OPTIONS = "FORMAT parquet, STRING_DICTIONARY_PAGE_SIZE_LIMIT 65536"


@dataclass
class ColSQL:
    typed: str                   # typed expression (from the trimmed value ``v``)
    checks: list[tuple[str, str]]   # (condition meaning "broken", rule)


def _list_expr(v: str) -> str:
    return f"list_filter(list_transform(string_split({v}, ','), lambda x: trim(x)), lambda x: x <> '')"


def column_sql(col: spec.Column, v: str, k: str) -> ColSQL:
    """``typed`` computes the typed value from the raw value ``v``; ``checks`` test ``v`` and the typed
    value already computed as column ``k`` (so every cast runs once per value)."""
    t = col.type
    checks: list[tuple[str, str]] = []
    if t in ("guid", "string"):
        typed = v
        if t == "guid":   # also covered by the combined GUID check of the row
            checks.append((f"({v} IS NOT NULL AND {guid_broken(v)})", "row.bad_guid"))
    elif t == "date":
        typed = f"TRY_CAST({v} AS DATE)"
        checks.append((f"({v} IS NOT NULL AND ({k} IS NULL OR NOT ({v} LIKE '____-__-__')))", "row.bad_date"))
    elif t == "datetime":
        typed = datetime_utc(v)
        checks.append((f"({v} IS NOT NULL AND ({k} IS NULL OR NOT ({v} LIKE '____-__-__%')))", "row.bad_datetime"))
    elif t == "year":
        typed = f"CASE WHEN regexp_full_match({v}, '\\d{{4}}') THEN CAST({v} AS INTEGER) END"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_year"))
    elif t == "boolean":
        typed = f"CASE lower({v}) WHEN 'true' THEN true WHEN 'false' THEN false END"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_boolean"))
    elif t == "enum":
        aliases = spec.STATUS_ALIASES if col.name == "status" else None
        typed = _enum_case(v, col.enum, aliases, col.extensible)
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_enum"))
    elif t in ("guid_list", "list", "enum_list"):
        lst = _list_expr(v)
        if t == "enum_list":
            typed = f"list_transform({lst}, lambda x: {_enum_case('x', col.enum)})"
            checks.append((f"({v} IS NOT NULL AND list_count({k}) < len({k}))", "row.bad_list"))
        else:
            typed = lst
            if t == "guid_list":
                checks.append((f"({v} IS NOT NULL AND len(list_filter({k}, lambda x: {guid_broken('x')})) > 0)", "row.bad_list"))
        typed = f"CASE WHEN {v} IS NULL THEN NULL ELSE {typed} END"
    elif t == "float":
        typed = f"TRY_CAST({v} AS DOUBLE)"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_number"))
    elif t == "integer":
        typed = f"TRY_CAST({v} AS BIGINT)"
        checks.append((f"({v} IS NOT NULL AND {k} IS NULL)", "row.bad_number"))
    else:  # pragma: no cover - guarded by spec.Column
        raise ValueError(t)
    if col.required:
        empty = f"({v} IS NULL)"
        if t in ("guid_list", "list", "enum_list"):
            empty = f"({v} IS NULL OR len({k}) = 0)"
        checks.insert(0, (empty, "row.required_missing"))
    return ColSQL(typed, checks)


# ---------------------------------------------------------------- physical line map

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


# ---------------------------------------------------------------- atomic partition swap

def _stage(final_dir: Path) -> Path:
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = final_dir.parent / f".tmp-{final_dir.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def _swap(tmp: Path | None, final_dir: Path) -> None:
    """Put ``tmp`` in place of ``final_dir`` (None: remove final_dir); old data removed last."""
    old = None
    if final_dir.exists():
        old = final_dir.parent / f".old-{final_dir.name}-{uuid.uuid4().hex[:8]}"
        os.replace(final_dir, old)
    if tmp is not None:
        os.replace(tmp, final_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- the loader

def load_memory_limit(limits: DropLimits, size: int) -> str:
    """DuckDB's memory limit for loading a large file of ``size`` bytes (see ``DropLimits``)."""
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


def _connect(limits: DropLimits, size: int, tmpdir: Path) -> duckdb.DuckDBPyConnection:
    """Own connection (own temp tables) on the process's throwaway in-memory DuckDB; a large file
    gets a database of its own, closed (memory given back) when the file is done."""
    if size >= LARGE_FILE_BYTES:
        spill = tmpdir / "spill"
        spill.mkdir(exist_ok=True)
        return private_database(limits.threads, load_memory_limit(limits, size), str(spill))
    return scratch_cursor(limits.threads, limits.memory_limit)


def load_file(ent: spec.Entity, df: DropFile, out_root: Path, delivery_date: str, limits: DropLimits,
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
            res.findings.append(finding("file.internal_error", f"{member} could not be loaded ({type(exc).__name__}); nothing was written.", file=member))
            return res


def _transcoded(member: str, stats: Transcoded) -> Finding:
    """What decoding a file that is not all valid UTF-8 did, by the evidence of its lines."""
    if stats.mixed:
        lines = ", ".join(str(n) for n in stats.bad_lines[:5]) + (f" and {stats.n_bad - 5} more" if stats.n_bad > 5 else "")
        return finding("file.encoding_repaired", f"the file is UTF-8 except {stats.n_bad} line(s) ({lines}); those lines were read as Windows-1252, the rest as UTF-8. Check them and save the file as UTF-8.", file=member, line=stats.bad_lines[0] if stats.bad_lines else None)
    return finding("file.encoding_fallback", "the file is not valid UTF-8; it was read as Windows-1252. Save it as UTF-8.", file=member)


def _csv_scan(path: Path, ncols: int) -> str:
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    return (f"read_csv({_lit(str(path))}, columns = {cols}, header = true, delim = ',', quote = '\"', escape = '\"', "
            "auto_detect = false, strict_mode = true, store_rejects = true, rejects_table = 'rj', rejects_scan = 'rs', "
            f"max_line_size = {MAX_LINE_BYTES})")


def _sample_stats(ent: spec.Entity, cmap: ColumnMap, hdr: Header) -> tuple[int, int, int, int, dict[str, int]]:
    """(rows, with status, with dateLastModified, inactive, non-canonical counts) over the head sample."""
    def val(row: list[str], name: str) -> str:
        i = cmap.sources.get(name)
        return row[i] if i is not None and i < len(row) else ""
    n = st = dlm = inactive = 0
    nonc: dict[str, int] = {}
    for row in hdr.sample:
        n += 1
        s_ = val(row, "status")
        st += s_ != ""
        dlm += val(row, "dateLastModified") != ""
        inactive += s_.lower() == "inactive"
        for col in ent.columns:
            if col.type not in ("boolean", "enum", "enum_list") or col.name not in cmap.sources:
                continue
            v = val(row, col.name)
            if not v:
                continue
            canon = ("true", "false") if col.type == "boolean" else col.enum
            items = [x.strip() for x in v.split(",")] if col.type == "enum_list" else [v]
            lowers = {c.lower() for c in canon}
            if any(x and x not in canon and x.lower() in lowers for x in items):
                nonc[col.name] = nonc.get(col.name, 0) + 1
    return n, st, dlm, inactive, nonc


def _load(ent, df, hdr: Header, cmap: ColumnMap, out_root: Path, delivery_date: str, limits: DropLimits,
          res: LoadResult, tmpdir: Path) -> LoadResult:
    """Common path: ONE streaming pass CSV -> typed Parquet of the good rows. A second pass over the CSV
    happens only when the file has rejected rows, duplicate sourcedIds or multi-line records."""
    member = df.member_name
    ncols = len(hdr.names)
    path = df.path
    con = _connect(limits, df.size, tmpdir)
    try:
        vals: dict[str, str] = {}
        for col in ent.columns:
            # read_csv gives NULL for empty fields, quoted ("") or not
            vals[col.name] = f"c{cmap.sources[col.name]}" if col.name in cmap.sources else "CAST(NULL AS VARCHAR)"
        knames = {c.name: f"k{j}" for j, c in enumerate(ent.columns)}
        csql = {c.name: column_sql(c, vals[c.name], knames[c.name]) for c in ent.columns}
        # rule order: required values, then types, then row rules. Every condition is a non-NULL boolean.
        conds: list[tuple[str, str]] = []
        for col in ent.columns:
            for cond, rule in csql[col.name].checks:
                if rule == "row.required_missing":
                    conds.append((cond, f"{rule}|{col.name}"))
        for col in ent.columns:
            for cond, rule in csql[col.name].checks:
                if rule != "row.required_missing":
                    conds.append((cond, f"{rule}|{col.name}"))
        if ent.name == "absence_codes":
            conds.append((f"coalesce({knames['dayFraction']} NOT BETWEEN 0 AND 1, false)", "row.out_of_range|dayFraction"))
        if ent.name == "attendance":
            conds.append((f"coalesce({knames['minutesAbsent']} < 0, false)", "row.out_of_range|minutesAbsent"))
        for a, b in (("startDate", "endDate"), ("beginDate", "endDate")):
            if a in csql and b in csql:
                conds.append((f"coalesce({knames[a]} > {knames[b]}, false)", f"row.date_order|{a}"))
        rule_case = ("CASE " + " ".join(f"WHEN {c} THEN {_lit(r)}" for c, r in conds) + " END") if conds else "CAST(NULL AS VARCHAR)"
        # GUID shape of reference columns (school, class, user ids...) is checked once per distinct value
        # after the scan, not per row: a regex per value is the most expensive check of the scan
        # (small files: per row, in the scan; a separate query per column costs more than it saves there)
        big = df.size >= LARGE_FILE_BYTES
        deferred = [c.name for c in ent.columns
                    if big and c.type == "guid" and c.name != "sourcedId" and c.name in cmap.sources]
        row_conds = [c for c, r in conds if r not in {f"row.bad_guid|{d}" for d in deferred}]
        ok_expr = " AND ".join(f"NOT {c}" for c in row_conds) if row_conds else "true"
        typed_inner = ", ".join(f"{csql[c.name].typed} AS {knames[c.name]}" for c in ent.columns)

        raw_hash = f"hash({', '.join(f'c{i}' for i in range(ncols))})"

        # ---- findings from the head sample (deprecated status, non-canonical spellings)
        n_s, _, _, inactive_s, nonc_s = _sample_stats(ent, cmap, hdr)
        declared = df.declared_mode if df.declared_mode in ("bulk", "delta") else None

        def typed_select(mode: str, line_expr: str) -> str:
            outs = []
            for col in ent.columns:
                k = f"s.{knames[col.name]}"
                if ent.name == "absence_codes" and col.name == "dayFraction":
                    k = f"coalesce({k}, CASE WHEN s.{knames['absent']} THEN 1.0 ELSE 0.0 END)"
                if col.name == "status" and mode == "bulk":
                    k = f"coalesce({k}, 'active')"
                outs.append(f"CAST({k} AS {col.duckdb_type}) AS {_q(col.name)}")
            for mname, pos in cmap.metadata.items():
                outs.append(f"s.c{pos} AS {_q(mname)}")
            # constants typed as one-value ENUMs: written as the same UTF8 strings, without hashing every row
            outs += [f"CAST({line_expr} AS BIGINT) AS _line", f"DATE {_lit(delivery_date)} AS _delivery_date",
                     f"CAST({_lit(mode)} AS ENUM({_lit(mode)})) AS _mode", f"CAST({_lit(member)} AS ENUM({_lit(member)})) AS _file"]
            return ", ".join(outs)

        raw_final, files_final, rej_final = partition_dirs(out_root, ent.name, delivery_date)
        staged: list[Path] = []
        rej_tmp = None
        kcols = ", ".join([knames[c.name] for c in ent.columns] + [f"c{pos}" for pos in cmap.metadata.values()])
        try:
            raw_tmp = _stage(raw_final)
            staged.append(raw_tmp)
            raw_path = raw_tmp / "part-0.parquet"

            def pass1(p: Path, again: bool = False) -> None:
                """Every record, typed and checked, into a table in file order (rowid = record ordinal - 1).
                Parallel, unlike numbering rows with a window over the scan."""
                if again:
                    for t in ("rj", "rs", "t"):
                        con.execute(f"DROP TABLE IF EXISTS {t}")
                con.execute(f"""CREATE TEMP TABLE t AS SELECT {kcols}, {ok_expr} AS _ok
                                FROM (SELECT *, {typed_inner} FROM {_csv_scan(p, ncols)})""")

            # the limits, before DuckDB reads anything: a line over MAX_LINE_BYTES may vanish in DuckDB
            n_lines, too_long = scan_lines(df.path)
            if too_long is not None:
                shutil.rmtree(raw_tmp, ignore_errors=True)
                res.failed = True
                res.findings.append(finding("file.record_too_long", f"line {too_long} is longer than {MAX_LINE_BYTES:,} bytes, the limit for one line; nothing was loaded. Check the line breaks (a file with none?) and quoting.", file=member, line=too_long))
                return res
            if hdr.encoding != "utf-8":
                path = tmpdir / "utf8.csv"
                res.findings.append(_transcoded(member, transcode_to_utf8(df.path, path)))
            try:
                pass1(path)
                rj_rows = con.execute("SELECT DISTINCT line, error_type = 'INVALID ENCODING' FROM rj").fetchall()
                if any(enc for _, enc in rj_rows) and path == df.path:
                    path = tmpdir / "utf8.csv"
                    res.findings.append(_transcoded(member, transcode_to_utf8(df.path, path)))
                    pass1(path, again=True)
                    rj_rows = con.execute("SELECT DISTINCT line, false FROM rj").fetchall()
            except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException):
                shutil.rmtree(raw_tmp, ignore_errors=True)
                res.failed = True
                res.findings.append(finding("file.read_error", "the file cannot be parsed as comma-separated CSV (check quotes and delimiter).", file=member))
                return res
            rj_lines = sorted({int(line) for line, _ in rj_rows})
            if deferred:
                bad_guids = con.execute(" UNION ALL ".join(
                    f"SELECT {j} AS j, v FROM (SELECT {knames[d]} AS v FROM t WHERE _ok AND {knames[d]} IS NOT NULL GROUP BY 1) "
                    f"WHERE {guid_broken('v')}" for j, d in enumerate(deferred))).fetchall()
                for j, d in enumerate(deferred):
                    values = [v for jj, v in bad_guids if jj == j]
                    if values:
                        con.execute(f"UPDATE t SET _ok = false WHERE {knames[d]} IN (SELECT unnest(?::VARCHAR[]))", [values])

            # ---- one pass over the table: counts, bulk/delta, repeated ids, date range
            # (repeated sourcedIds: distinct 64-bit hashes counted first; a repeat is looked at only if one exists)
            sid_k = knames["sourcedId"]
            ok = "FILTER (WHERE _ok)"
            span = (f", min({knames['date']}) {ok}, max({knames['date']}) {ok}" if ent.name == "attendance"
                    else ", NULL, NULL")
            n_all, n_good, n_status, n_dlm, n_repeat, min_date, max_date = con.execute(
                f"""SELECT count(*), count(*) {ok}, count({knames['status']}) {ok}, count({knames['dateLastModified']}) {ok},
                           count({sid_k}) {ok} - count(DISTINCT hash({sid_k})) {ok}{span} FROM t""").fetchone()
            n_all, n_good = int(n_all), int(n_good)

            # ---- bulk or delta: exact counts over the good rows
            if n_good and n_status == n_good and n_dlm == n_good:
                inferred = "delta"
            elif n_good and n_dlm == 0:
                inferred = "bulk"
            else:
                inferred = None
            mode = inferred or declared or "bulk"
            if inferred is None and n_good:
                res.findings.append(finding("mode.mixed_status", f"{n_dlm} of {n_good} rows have dateLastModified; read as {mode}. Fill status and dateLastModified on every row for a delta, leave both blank for a bulk.", file=member))
            if declared and inferred and declared != inferred:
                res.findings.append(finding("manifest.mode_mismatch", f"manifest.csv says {declared} but the rows {'have' if inferred == 'delta' else 'lack'} status/dateLastModified; read as {inferred}.", file=member))
            res.mode = mode
            if inactive_s:
                res.findings.append(finding("row.status_inactive", f"the deprecated status 'inactive' is used ({inactive_s} of the first {n_s} rows); read as 'tobedeleted'.", file=member, column="status"))
            for name, cnt in nonc_s.items():
                res.findings.append(finding("row.noncanonical_value", f"{name} has values in non-canonical spelling, e.g. TRUE for true ({cnt} of the first {n_s} rows); normalised.", file=member, column=name))

            # ---- duplicate sourcedIds among the good rows (first one wins)
            n_dupkeys = 0
            if n_repeat:
                con.execute(f"CREATE TEMP TABLE dup_h AS SELECT hash({sid_k}) AS h FROM t WHERE _ok GROUP BY 1 HAVING count(*) > 1")
                con.execute(f"""CREATE TEMP TABLE dup AS SELECT {sid_k} AS k, min(rowid) + 1 AS first_rn
                                FROM t WHERE _ok AND hash({sid_k}) IN (SELECT h FROM dup_h)
                                GROUP BY 1 HAVING count(*) > 1""")
                n_dupkeys = con.execute("SELECT count(*) FROM dup").fetchone()[0]

            # ---- anything else to do? (bad rows, parser rejects, multi-line records)
            clean = not rj_lines and not n_dupkeys and n_all == n_good and n_lines == n_good + 1
            n_bad = n_dup_rows = 0
            line_map: list[int] | None = None
            rec_expr = "(s._rn + 1)"
            line_expr = rec_expr
            joins = ""
            if not clean and (n_all != n_good or n_dupkeys):
                # pass 2 (parallel, no numbering): the raw values of the refused rows and duplicate
                # candidates (only records whose sourcedId is one of theirs, or blank, are typed and
                # checked again), each paired with its record number in the table by its typed values.
                # Rows alike in those are interchangeable unless their raw text differs (two bad
                # values that both read as NULL): then the records are numbered in one ordered scan.
                sid = vals["sourcedId"]
                dup_t = f" OR {sid_k} IN (SELECT k FROM dup)" if n_dupkeys else ""
                dup_csv = f" OR {sid} IN (SELECT k FROM dup)" if n_dupkeys else ""
                keys = ", ".join(knames[c.name] for c in ent.columns)
                con.execute(f"CREATE TEMP TABLE cand AS SELECT rowid + 1 AS _rn, {keys} FROM t WHERE NOT _ok{dup_t}")
                con.execute("DROP TABLE IF EXISTS rj")
                con.execute("DROP TABLE IF EXISTS rs")
                con.execute(f"""CREATE TEMP TABLE raw2 AS SELECT * FROM (
                        SELECT *, {rule_case} AS _rule, {raw_hash} AS _rh FROM (SELECT *, {typed_inner} FROM (
                            SELECT * FROM {_csv_scan(path, ncols)} WHERE {sid} IS NULL OR {sid} IN (SELECT {sid_k} FROM cand))))
                        WHERE _rule IS NOT NULL{dup_csv}""")
                ambiguous = con.execute(f"""SELECT count(*) FROM (SELECT {keys} FROM raw2 GROUP BY ALL
                                            HAVING count(DISTINCT _rh) > 1)""").fetchone()[0]
                if ambiguous:
                    con.execute("DROP TABLE IF EXISTS rj")
                    con.execute("DROP TABLE IF EXISTS rs")
                    con.execute(f"""CREATE TEMP TABLE src AS SELECT * FROM (
                            SELECT *, {rule_case} AS _rule FROM (SELECT *, row_number() OVER () AS _rn
                                FROM (SELECT *, {typed_inner} FROM {_csv_scan(path, ncols)})))
                            WHERE _rule IS NOT NULL{dup_csv}""")
                else:
                    same = " AND ".join(f"r.{k} IS NOT DISTINCT FROM c.{k}" for k in keys.split(", "))
                    con.execute(f"""CREATE TEMP TABLE src AS SELECT r.* EXCLUDE (_j), c._rn FROM
                            (SELECT *, row_number() OVER (PARTITION BY {keys}) AS _j FROM raw2) r
                            JOIN (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY _rn) AS _j FROM cand) c
                            ON r._j = c._j AND {same}""")
                if n_dupkeys:
                    con.execute(f"""UPDATE src SET _rule = 'row.duplicate_sourced_id|sourcedId'
                                    WHERE _rule IS NULL AND _rn <> (SELECT first_rn FROM dup WHERE dup.k = {sid})""")
                    con.execute("DELETE FROM src WHERE _rule IS NULL")
                n_bad = con.execute("SELECT count(*) FROM src").fetchone()[0]
                n_dup_rows = con.execute("SELECT count(*) FROM src WHERE _rule LIKE 'row.duplicate%'").fetchone()[0]
            if not clean:
                n_records = n_good + (n_bad - n_dup_rows) + len(rj_lines) + 1
                if n_lines != n_records:
                    line_map = _line_map(path, "utf-8-sig")
                    if len(line_map) < n_records:
                        line_map = None
                if rj_lines:
                    adj = list({r - 2 - i: i + 1 for i, r in enumerate(rj_lines)}.items())
                    con.execute("CREATE TEMP TABLE skip_adj(a BIGINT, m BIGINT)")
                    con.executemany("INSERT INTO skip_adj VALUES (?, ?)", adj)
                    rec_expr = "(s._rn + 1 + coalesce(sk.m, 0))"
                    joins += " ASOF LEFT JOIN skip_adj sk ON s._rn - 1 >= sk.a"
                line_expr = rec_expr
                if line_map is not None:
                    con.execute("CREATE TEMP TABLE lmap(rec BIGINT, line BIGINT)")
                    con.execute("INSERT INTO lmap SELECT generate_subscripts(l, 1), unnest(l) FROM (SELECT ?::BIGINT[] AS l)", [line_map])
                    joins += f" LEFT JOIN lmap lm ON lm.rec = {rec_expr}"
                    line_expr = f"coalesce(lm.line, {rec_expr})"

            # ---- the raw Parquet: good rows, file order, written once
            where = " AND s._rn NOT IN (SELECT _rn FROM src WHERE _rule LIKE 'row.duplicate%')" if n_dup_rows else ""
            order = " ORDER BY s._rn" if joins else ""
            con.execute(f"""COPY (SELECT {typed_select(mode, line_expr)}
                            FROM (SELECT *, rowid + 1 AS _rn FROM t WHERE _ok) s{joins} WHERE true{where}{order})
                            TO {_lit(str(raw_path))} ({RAW_PARQUET_OPTIONS})""")
            rp = _lit(str(raw_path))
            res.rows = n_good - n_dup_rows

            # ---- rejects
            n_rej = n_bad + len(rj_lines)
            if n_rej:
                rej_tmp = _stage(rej_final)
                staged.append(rej_tmp)
                names = cmap.file_names
                orig = ", ".join(f"s.c{i} AS {_q(names[i])}" for i in range(ncols))
                nulls = ", ".join(f"CAST(NULL AS VARCHAR) AS {_q(names[i])}" for i in range(ncols))
                reason_case = "CASE " + " ".join(
                    f"WHEN split_part(s._rule, '|', 1) = {_lit(r)} THEN {_lit(RULES[r][2])}" for r in RULES if r.startswith("row.")
                ) + " END"
                parts = []
                if n_bad:
                    parts.append(f"""SELECT {orig}, CAST({line_expr} AS BIGINT) AS _line, split_part(s._rule, '|', 1) AS _rule,
                        split_part(s._rule, '|', 2) || ': ' || {reason_case} AS _reason, CAST(NULL AS VARCHAR) AS _raw
                        FROM src s{joins}""")
                if rj_lines:
                    if line_map is not None:
                        con.execute("CREATE TEMP TABLE rjl AS SELECT r.*, coalesce(lm.line, r.line) AS pline FROM rj r LEFT JOIN lmap lm ON lm.rec = r.line")
                    else:
                        con.execute("CREATE TEMP TABLE rjl AS SELECT *, line AS pline FROM rj")
                    parts.append(f"""SELECT {nulls}, CAST(r.pline AS BIGINT) AS _line, 'row.malformed' AS _rule,
                        r.error_type || ': ' || {_lit(RULES['row.malformed'][2])} AS _reason, r.csv_line AS _raw
                        FROM (SELECT *, row_number() OVER (PARTITION BY line ORDER BY byte_position) AS k FROM rjl) r WHERE k = 1""")
                rej_path = rej_tmp / "rejects.parquet"
                con.execute(f"COPY ({' UNION ALL BY NAME '.join(parts)} ORDER BY _line) TO {_lit(str(rej_path))} (FORMAT parquet)")
                res.rejects_path = rej_final / "rejects.parquet"
            res.rejected_rows = n_rej
            n_records = res.rows + n_rej
            if n_rej and n_rej > limits.max_rejected_fraction * n_records:
                res.findings.append(finding("file.most_rows_rejected", f"{n_rej} of the file's {n_records} rows were rejected (more than {limits.max_rejected_fraction:.0%}); the delivery is blocked. Fix the rows named below and send the file again.", file=member))

            # ---- _files row
            if ent.name == "attendance" and res.rows:
                if n_dup_rows:   # the range above still counted the refused repeats
                    min_date, max_date = con.execute(f'SELECT min("date"), max("date") FROM read_parquet({rp})').fetchone()
                res.min_date = min_date.isoformat() if min_date else None
                res.max_date = max_date.isoformat() if max_date else None
            files_tmp = _stage(files_final)
            staged.append(files_tmp)
            con.execute(
                f"""COPY (SELECT {_lit(ent.name)} AS entity, DATE {_lit(delivery_date)} AS delivery_date, {_lit(mode)} AS mode,
                    {_lit(member)} AS file_name, {_lit(df.sha256)} AS sha256, CAST(? AS BIGINT) AS rows,
                    CAST(? AS BIGINT) AS rejected_rows, CAST(? AS DATE) AS min_date, CAST(? AS DATE) AS max_date)
                    TO {_lit(str(files_tmp / 'part-0.parquet'))} (FORMAT parquet)""",
                [res.rows, n_rej, res.min_date, res.max_date],
            )
            res.findings.extend(_row_findings(con, ent, cmap, member, n_bad, rj_lines, line_expr, joins, limits))
            if n_good == 0 and n_bad == 0 and not rj_lines:
                res.findings.append(finding("file.no_rows", f"{member} has a header but no data rows.", file=member))
        except BaseException:
            for tmp in staged:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        # ---- publish: each partition swapped only now that all are complete
        _swap(raw_tmp, raw_final)
        _swap(files_tmp, files_final)
        _swap(rej_tmp, rej_final)
        res.parquet_path = raw_final / "part-0.parquet"
        res.files_path = files_final / "part-0.parquet"
        return res
    finally:
        con.close()


DATE_CHARS = set("0123456789-/:.TZ +")


def _harmless(col: spec.Column, value: object) -> bool:
    """A refused value that cannot be personal data: a date-like value of a non-personal date column
    (the header is intact: the file loaded) or an enumeration member."""
    if col.pii or value is None:
        return False
    if col.type in ("date", "datetime", "year"):   # only digits and date/time separators: never a name
        return len(str(value)) <= 35 and set(str(value)) <= DATE_CHARS
    return bool(col.enum) and str(value).lower() in {v.lower() for v in col.enum}


def _row_findings(con, ent: spec.Entity, cmap: ColumnMap, member: str, n_bad: int, rj_lines: list[int], line_expr: str,
                  joins: str, limits: DropLimits) -> list[Finding]:
    out: list[Finding] = []
    cap = limits.max_findings_per_rule
    if rj_lines:
        rows = con.execute(f"""SELECT pline AS l, error_type, column_name FROM
                (SELECT *, row_number() OVER (PARTITION BY line ORDER BY byte_position) AS k FROM rjl) WHERE k = 1
                ORDER BY l LIMIT {cap}""").fetchall()
        for line, etype, _ in rows:
            what = {"TOO MANY COLUMNS": "has more fields than the header",
                    "MISSING COLUMNS": "has fewer fields than the header",
                    "UNQUOTED VALUE": "has a quote inside an unquoted field",
                    "LINE SIZE OVER MAXIMUM": "is longer than 10 MB",
                    "INVALID ENCODING": "has bytes that are not valid text"}.get(etype, "cannot be split into fields")
            out.append(finding("row.malformed", f"line {line} {what}; the row was rejected. Quote fields containing commas, quotes or line breaks.", file=member, line=int(line)))
        if len(rj_lines) > cap:
            out.append(finding("rows.truncated", f"{len(rj_lines) - cap} more malformed rows (total {len(rj_lines)}); all are in rejects.", file=member, severity="info"))
    if not n_bad:
        return out
    counts = con.execute("SELECT _rule, count(*) FROM src GROUP BY 1 ORDER BY 1").fetchall()
    pii = set(ent.pii_columns)
    sample = con.execute(f"""
        SELECT _rule, line, val FROM (
            SELECT s._rule, CAST({line_expr} AS BIGINT) AS line, row_number() OVER (PARTITION BY s._rule ORDER BY s._rn) AS k,
                   CASE split_part(s._rule, '|', 2) {' '.join(f"WHEN {_lit(c)} THEN s.c{i}" for c, i in cmap.sources.items())} END AS val
            FROM src s{joins})
        WHERE k <= {cap} ORDER BY _rule, line""").fetchall()
    for rule_col, line, val in sample:
        rule, col = rule_col.split("|", 1)
        desc = RULES[rule][2]
        if rule == "row.required_missing":
            msg = f"line {line}: {col} is required but blank; the row was rejected."
        elif rule == "row.duplicate_sourced_id":
            msg = f"line {line}: sourcedId {quote_value(val, pii=False)} was already used on an earlier line; this row was rejected."
        elif col in pii:
            msg = f"line {line}: {col} {quote_value(val, pii=True)} - {desc} The row was rejected."
        else:
            msg = f"line {line}: {col} {safe_value(val, pii_file=bool(pii), harmless=_harmless(ent.column(col), val))} - {desc} The row was rejected."
        out.append(finding(rule, msg, file=member, line=int(line), column=col))
    for rule_col, cnt in counts:
        if cnt > cap:
            rule, col = rule_col.split("|", 1)
            out.append(finding("rows.truncated", f"{cnt - cap} more rows broke {rule} on {col} (total {cnt}); all are in rejects.", file=member, column=col, severity="info"))
    return out


