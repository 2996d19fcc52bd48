"""Wrong customer: a delivery whose organisations are none of the customer's (docs/validation.md).

A district's export always names some of its own organisations: the schools and the district org in
``orgs.csv`` (their ``sourcedId`` or ``identifier``, and the ``parentSourcedId`` of a new school), the
``schoolSourcedId`` of attendance, enrollments and classes, a user's ``orgSourcedIds`` (1.1) or a
role's ``orgSourcedId`` (1.2). The customer's organisations are its configured ``licensed_schools``
(sourcedIds or identifiers) plus every organisation delivered to it before (``raw/orgs``). When the
delivery names organisations and not one of them is the customer's, the delivery is another district's
export copied into the wrong landing folder: it is blocked as a whole (``delivery.wrong_customer``),
nothing of it is promoted. Before the customer's first orgs delivery only its config can disagree,
and a config can be wrong (an onboarding typo: a licensed school then has no students, which the
marts' plausibility checks also report), so it is a warning; without licensed schools either the
rule cannot tell and says nothing.

The finding names counts, the files and the fix, never an organisation id from the delivery (an id
column of a shifted row may hold a name).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..paths import partition_files
from ..sql import ident, string
from .findings import Finding, finding
from .scratch import scratch_cursor

RULE = "delivery.wrong_customer"
# entity -> the columns holding organisation ids (sourcedId or identifier)
ORG_COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "identifier", "parentSourcedId"),
    "attendance": ("schoolSourcedId",),
    "enrollments": ("schoolSourcedId",),
    "classes": ("schoolSourcedId",),
    "users": ("orgSourcedIds",),
    "roles": ("orgSourcedId",),
}


def _ids_sql(source: str, columns: dict[str, str], wanted: tuple[str, ...], also: str = "") -> list[str]:
    """One ``SELECT ... AS id`` per wanted column present (a list column unnested); ``also``: more
    select items after the id (e.g. ``, filename``)."""
    parts = []
    for col in wanted:
        if col not in columns:
            continue
        ref = ident(col)
        value = f"unnest({ref})" if columns[col].endswith("[]") else ref
        parts.append(f"SELECT CAST({value} AS VARCHAR) AS id{also} FROM {source}")
    return parts


def _columns(con, source: str) -> dict[str, str]:
    return {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def delivered_org_sql(con, results: dict) -> Iterator[tuple[str, list[str]]]:
    """(the delivered file, SQL parts listing the organisation ids it names), entity by entity in
    ``ORG_COLUMNS`` order, each file's columns read only when the caller gets that far."""
    for entity, wanted in ORG_COLUMNS.items():
        res = results.get(entity)
        parquet = getattr(res, "parquet_path", None)
        if (res is None or not getattr(res, "present", True) or getattr(res, "failed", False)
                or parquet is None or not Path(parquet).exists() or not int(getattr(res, "rows", 0) or 0)):
            continue
        source = f"read_parquet({string(str(parquet))})"
        found = _ids_sql(source, _columns(con, source), wanted)
        if found:
            yield str(getattr(res, "file_name", None) or entity), found


# (orgs partition file, size, mtime_ns) -> the organisation ids it holds: partitions are immutable, so a
# process ingesting many deliveries (a backlog, a backfill) reads each one once, not once per delivery
_KNOWN_IDS: dict[tuple[str, int, int], frozenset[str]] = {}


def known_org_ids(con, raw_root: Path | None) -> set[str]:
    """Every organisation id (sourcedId, identifier) delivered to the customer before."""
    if raw_root is None:
        return set()
    keys = []
    for _, _, f in partition_files(Path(raw_root) / "orgs"):   # every delivery, seq= or not
        st = f.stat()
        keys.append((str(f), st.st_size, st.st_mtime_ns))
    unread = [k for k in keys if k not in _KNOWN_IDS]
    if unread:
        source = (f"read_parquet([{', '.join(string(k[0]) for k in unread)}], union_by_name=true, "
                  "filename=true)")
        ids = _ids_sql(source, _columns(con, source), ("sourcedId", "identifier"), also=", filename")
        by_file: dict[str, set[str]] = {k[0]: set() for k in unread}
        if ids:
            for id_, name in con.execute(f"SELECT id, filename FROM ({' UNION ALL '.join(ids)}) "
                                         "WHERE id IS NOT NULL"
                                         ).fetchall():
                by_file.setdefault(name, set()).add(id_)
        for k in unread:
            _KNOWN_IDS[k] = frozenset(by_file.get(k[0], ()))
    return set().union(*(_KNOWN_IDS[k] for k in keys))


def wrong_customer_findings(results: dict, customer, raw_root: Path | None) -> list[Finding]:
    """``delivery.wrong_customer`` when the delivery names organisations and none is the customer's: an
    error once the customer has an orgs delivery (its history cannot be a typo), a warning when only
    its ``licensed_schools`` disagree (a first delivery: the config may be the one that is wrong);
    nothing when the delivery names none or the customer has nothing to compare with."""
    if customer is None:
        return []
    licensed = [str(s) for s in getattr(customer, "licensed_schools", []) or []]
    # the process's scratch database (a cursor, not a new DuckDB per delivery: opening one costs more
    # than this whole rule on a nightly delta)
    con = scratch_cursor(threads=2)
    try:
        known: list[str] | None = None
        delivered: list[str] = []
        files: list[str] = []
        # file by file, orgs before the big files: the usual delivery names a known organisation in
        # its first file, which settles it, the scan stopping at the first hit
        for file, parts in delivered_org_sql(con, results):
            if known is None:
                history = known_org_ids(con, raw_root)
                known = sorted(history | set(licensed))
                if not known:
                    return []
            if con.execute(f"SELECT 1 FROM ({' UNION ALL '.join(parts)}) p "
                           "WHERE p.id IN (SELECT unnest(?::VARCHAR[])) LIMIT 1", [known]).fetchone():
                return []
            delivered += parts
            files.append(file)
        if not delivered:
            return []
        n_delivered = con.execute(f"SELECT count(DISTINCT id) FROM ({' UNION ALL '.join(delivered)})"
                                  ).fetchone()[0]
    finally:
        con.close()
    n_history, n_known = len(history), len(known)
    if not n_delivered:
        return []
    cid = getattr(customer, "customer_id", "the customer")
    names = f"none of the {n_delivered} organisations this delivery names ({', '.join(files)})"
    if not n_history:   # only the config to go by: it may be the one that is wrong
        return [finding(RULE, (
            f"{names} is one of the {len(licensed)} licensed_schools of {cid}, and no delivery of {cid} "
            f"named its organisations before. Check that this is {cid}'s export, and that licensed_schools "
            f"in {cid}.yaml holds its schools' sourcedIds or identifiers."), file=files[0],
            severity="warning")]
    return [finding(RULE, (
        f"{names} is a licensed school of {cid} or an organisation delivered to it before ({n_known} known): "
        f"it looks like another district's export. Nothing was loaded. Move it to its own customer's "
        f"landing folder, or, if {cid}'s ids changed (a new SIS), update licensed_schools in {cid}.yaml "
        "and deliver it again."), file=files[0])]
