"""A file's header row matched to the contract's columns: by exact name, else case- and
punctuation-blind; unknown, blank, repeated and missing columns reported as findings."""

from __future__ import annotations

from dataclasses import dataclass

from . import spec
from .findings import Finding, describe_value, finding


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch == ".")


@dataclass
class ColumnMap:
    sources: dict[str, int]            # contract column -> position in the file
    metadata: dict[str, int]           # metadata.* column -> position
    file_names: list[str]              # name used for each file position in rejects


def map_header(ent: spec.Entity, names: list[str], member: str) -> tuple[ColumnMap | None, list[Finding]]:
    out: list[Finding] = []
    names = _absent_twice(ent, list(names), member, out)
    by_norm = {_norm(c): c for c in ent.column_names}
    sources: dict[str, int] = {}
    metadata: dict[str, int] = {}
    file_names: list[str] = []
    unknown: list[tuple[int, str]] = []
    fatal = False
    for i, raw in enumerate(names):
        if raw == "":
            out.append(finding("header.empty_column_name",
                               f"header cell {i + 1} is blank; every column needs a name.", file=member,
                               line=1))
            fatal = True
            file_names.append(f"_column{i + 1}")
            continue
        if raw.lower().startswith("metadata."):
            if raw in metadata:
                out.append(finding("header.duplicate_column", f"column {raw!r} appears twice in the header.",
                                   file=member, line=1, column=raw[:80]))
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
            out.append(finding("header.column_case",
                               f"column {raw[:80]!r} read as {target!r}; use the exact name.",
                               file=member, line=1, column=target))
        if target in sources:
            out.append(finding("header.duplicate_column",
                               f"column {target!r} appears twice in the header "
                               f"(positions {sources[target] + 1} and {i + 1}).",
                               file=member, line=1, column=target))
            fatal = True
            file_names.append(f"{target}_{i + 1}")
            continue
        sources[target] = i
        file_names.append(target)
    fatal = _check_columns(ent, sources, unknown, member, out) or fatal
    order = [c for c in ent.column_names if c in sources]
    if not fatal and sorted(sources, key=sources.get) != order:
        out.append(finding("header.reordered",
                           "columns are not in the contract order; they are matched by name.",
                           file=member, line=1))
    if fatal:
        return None, out
    return ColumnMap(sources, metadata, file_names), out


def _absent_twice(ent: spec.Entity, names: list[str], member: str, out: list[Finding]) -> list[str]:
    """absence_codes.csv with 'absent' twice and no 'excused': the second one is read as 'excused'."""
    if ent.name == "absence_codes":
        absent_at = [i for i, n in enumerate(names) if _norm(n) == "absent"]
        if len(absent_at) == 2 and not any(_norm(n) == "excused" for n in names):
            names[absent_at[1]] = "excused"
            out.append(finding("header.absent_twice",
                               "the header has 'absent' twice; the second one is read as 'excused'. "
                               "Rename it to excused.", file=member, line=1, column="excused"))
    return names


def _check_columns(ent: spec.Entity, sources: dict[str, int], unknown: list[tuple[int, str]], member: str,
                   out: list[Finding]) -> bool:
    """Unknown columns, then missing ones; True when a required column is missing."""
    fatal = False
    intact = all(col in sources for col in ent.required_columns)
    out.extend(_unknown_columns(ent, unknown, member, quote=intact or not ent.pii_columns))
    for col in ent.required_columns:
        if col not in sources:
            out.append(finding("header.missing_required_column",
                               f"required column {col!r} is missing from the header of {ent.file_name}.",
                               file=member, line=1, column=col))
            fatal = True
    return fatal


def _unknown_columns(ent: spec.Entity, unknown: list[tuple[int, str]], member: str,
                     quote: bool) -> list[Finding]:
    """Unknown header cells, by name only when the header is intact (or the file holds no personal
    data): a file sent without its header has a data row there (names, usernames)."""
    out = []
    for i, raw in unknown:
        if quote:
            out.append(finding("header.unknown_column",
                               f"column {raw[:80]!r} is not in the {ent.file_name} contract; it is ignored.",
                               file=member, line=1, column=raw[:80]))
        else:
            out.append(finding("header.unknown_column",
                               f"header cell {i + 1} {describe_value(raw)} is not a {ent.file_name} column "
                               "name; it is ignored. Is the header line missing?",
                               file=member, line=1, column=f"_column{i + 1}"))
    return out
