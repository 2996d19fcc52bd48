"""Cross-file reference checks within one delivery (run on the loaded raw Parquet).

A reference is checked against the delivery itself. When the target file is a bulk, it is the
complete population, so an unresolved reference is an error; when it is a delta the target may
already exist in current state, so it is a warning. When the target file is not in the delivery the
references of that column are not checked (info).
"""

from __future__ import annotations

from pathlib import Path

from ..sql import ident as _q
from ..sql import string as _lit
from . import spec
from .discover import DeliveryLimits
from .findings import Finding, finding, quote_value
from .load import LoadResult
from .scratch import scratch_cursor


def _refs(contract: spec.Contract) -> list[tuple[str, str, str, str]]:
    """(entity, column, column type, target entity) of one version's contract."""
    out = []
    for ent in contract.entities:
        for col in ent.columns:
            if col.references:
                out.append((ent.name, col.name, col.type, col.references))
    out.append(("attendance", "absenceCode", "string", "absence_codes"))
    return out


def check_references(results: dict[str, LoadResult], root: Path, limits: DeliveryLimits,
                     contract: spec.Contract = spec.ONEROSTER_11) -> list[Finding]:
    ok = {k: r for k, r in results.items() if not r.failed and r.parquet_path is not None}
    out: list[Finding] = []
    con = scratch_cursor(limits.threads, limits.memory_limit)
    try:
        for ent_name, col, ctype, target in _refs(contract):
            src = ok.get(ent_name)
            if src is None or src.rows == 0:
                continue
            member = src.file_name
            tgt = ok.get(target)
            if tgt is None:
                if target not in results:
                    n = con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(src.parquet_path))}) WHERE "
                                    f"{_q(col)} IS NOT NULL").fetchone()[0]
                    if n:
                        out.append(finding("ref.target_absent",
                                           f"{col} of {n} rows was not checked: "
                                           f"{spec.entity(target).file_name} is not in the delivery.",
                                           file=member, column=col))
                continue
            key_cols = ["sourcedId"] + (["title"] if col == "absenceCode" else [])
            parts = [f"SELECT {_q(k)} AS id FROM "
                     f"read_parquet({_lit(str(tgt.parquet_path))})" for k in key_cols]
            if tgt.rejects_path is not None and Path(tgt.rejects_path).exists():
                rcols = {r[0] for r in con.execute("DESCRIBE SELECT * FROM "
                                                   f"read_parquet({_lit(str(tgt.rejects_path))})").fetchall()}
                parts += [f"SELECT {_q(k)} FROM "
                          f"read_parquet({_lit(str(tgt.rejects_path))})" for k in key_cols if k in rcols]
            ids = " UNION ".join(parts)
            if ctype in ("guid_list",):
                vals = (f"SELECT _line, unnest({_q(col)}) AS v FROM "
                        f"read_parquet({_lit(str(src.parquet_path))})")
            else:
                vals = f"SELECT _line, {_q(col)} AS v FROM read_parquet({_lit(str(src.parquet_path))})"
            q = (f"WITH ids AS ({ids}), vals AS ({vals}) SELECT _line, v FROM vals WHERE v IS NOT NULL AND v "
                 "NOT IN (SELECT id FROM ids WHERE id IS NOT NULL)")
            total = con.execute(f"SELECT count(*) FROM ({q})").fetchone()[0]
            if not total:
                continue
            sev = "error" if tgt.mode == "bulk" else "warning"
            first = con.execute(f"{q} ORDER BY _line LIMIT {int(limits.max_findings_per_rule)}").fetchall()
            tname = spec.entity(target).file_name
            for line, v in first:
                out.append(finding("ref.dangling",
                                   f"line {line}: {col} {quote_value(v, pii=False)} is not a "
                                   f"sourcedId{' or title' if col == 'absenceCode' else ''} in {tname} "
                                   f"({tgt.mode}).", file=member, line=int(line), column=col, severity=sev))
            if total > len(first):
                out.append(finding("rows.truncated",
                                   f"{total - len(first)} more unresolved {col} references (total {total}).",
                                   file=member, column=col, severity="info"))
    finally:
        con.close()
    return out
