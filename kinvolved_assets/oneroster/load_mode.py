"""Bulk or delta: the mode read from the rows (status and dateLastModified on every good row, or on
none) against the manifest's, and what the head sample shows (the deprecated 'inactive', values in
non-canonical spelling)."""

from __future__ import annotations

from . import spec
from .decode import Header
from .findings import Finding, finding
from .header_map import ColumnMap


def _sample_stats(ent: spec.Entity, cmap: ColumnMap, hdr: Header) -> tuple[int, int, int, int,
                                                                           dict[str, int]]:
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



def decide_mode(ent: spec.Entity, cmap: ColumnMap, hdr: Header, declared: str | None, n_good: int,
                n_status: int, n_dlm: int, member: str) -> tuple[str, list[Finding]]:
    """The file's mode from exact counts over the good rows, and the findings about it."""
    out: list[Finding] = []
    n_s, _, _, inactive_s, nonc_s = _sample_stats(ent, cmap, hdr)
    if n_good and n_status == n_good and n_dlm == n_good:
        inferred = "delta"
    elif n_good and n_dlm == 0:
        inferred = "bulk"
    else:
        inferred = None
    mode = inferred or declared or "bulk"
    if inferred is None and n_good:
        out.append(finding("mode.mixed_status",
                           f"{n_dlm} of {n_good} rows have dateLastModified; read as {mode}. Fill status and "
                           "dateLastModified on every row for a delta, leave both blank for a bulk.",
                           file=member))
    if declared and inferred and declared != inferred:
        out.append(finding("manifest.mode_mismatch",
                           f"manifest.csv says {declared} but the rows "
                           f"{'have' if inferred == 'delta' else 'lack'} status/dateLastModified; "
                           f"read as {inferred}.", file=member))
    if inactive_s:
        out.append(finding("row.status_inactive",
                           f"the deprecated status 'inactive' is used ({inactive_s} of the first {n_s} "
                           "rows); read as 'tobedeleted'.", file=member, column="status"))
    for name, cnt in nonc_s.items():
        out.append(finding("row.noncanonical_value",
                           f"{name} has values in non-canonical spelling, e.g. TRUE for true "
                           f"({cnt} of the first {n_s} rows); normalised.", file=member, column=name))
    return mode, out
