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

from pathlib import Path

import duckdb

from ..paths import partition_files
from ..sql import ident, string
from .findings import Finding, finding

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


def _ids_sql(source: str, columns: dict[str, str], wanted: tuple[str, ...]) -> list[str]:
    parts = []
    for col in wanted:
        if col not in columns:
            continue
        ref = ident(col)
        if columns[col].endswith("[]"):
            parts.append(f"SELECT CAST(unnest({ref}) AS VARCHAR) AS id FROM {source}")
        else:
            parts.append(f"SELECT CAST({ref} AS VARCHAR) AS id FROM {source}")
    return parts


def _columns(con, source: str) -> dict[str, str]:
    return {r[0]: str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def delivered_org_sql(con, results: dict) -> tuple[list[str], list[str]]:
    """(SQL parts listing the organisation ids the delivery names, the files they come from)."""
    parts, files = [], []
    for entity, wanted in ORG_COLUMNS.items():
        res = results.get(entity)
        parquet = getattr(res, "parquet_path", None)
        if (res is None or not getattr(res, "present", True) or getattr(res, "failed", False)
                or parquet is None or not Path(parquet).exists() or not int(getattr(res, "rows", 0) or 0)):
            continue
        source = f"read_parquet({string(str(parquet))})"
        found = _ids_sql(source, _columns(con, source), wanted)
        if found:
            parts += found
            files.append(str(getattr(res, "file_name", None) or entity))
    return parts, files


def known_org_sql(con, raw_root: Path | None) -> list[str]:
    """SQL listing every organisation id (sourcedId, identifier) delivered to the customer before."""
    if raw_root is None:
        return []
    parts = [f for _, _, f in partition_files(Path(raw_root) / "orgs")]   # every delivery, seq= or not
    if not parts:
        return []
    source = f"read_parquet([{', '.join(string(str(p)) for p in parts)}], union_by_name=true)"
    return _ids_sql(source, _columns(con, source), ("sourcedId", "identifier"))


def wrong_customer_findings(results: dict, customer, raw_root: Path | None) -> list[Finding]:
    """``delivery.wrong_customer`` when the delivery names organisations and none is the customer's: an
    error once the customer has an orgs delivery (its history cannot be a typo), a warning when only
    its ``licensed_schools`` disagree (a first delivery: the config may be the one that is wrong);
    nothing when the delivery names none or the customer has nothing to compare with."""
    if customer is None:
        return []
    licensed = [str(s) for s in getattr(customer, "licensed_schools", []) or []]
    con = duckdb.connect()
    try:
        delivered, files = delivered_org_sql(con, results)
        if not delivered:
            return []
        history = known_org_sql(con, raw_root)
        con.execute("CREATE TEMP TABLE _licensed(id VARCHAR)")
        if licensed:
            con.executemany("INSERT INTO _licensed VALUES (?)", [(s,) for s in licensed])
        known = " UNION ALL ".join([*history, "SELECT id FROM _licensed"])
        n_history, n_known = con.execute(
            f"SELECT (SELECT count(DISTINCT id) FROM ({' UNION ALL '.join(history) or 'SELECT NULL AS id'}) "
            f"WHERE id IS NOT NULL), (SELECT count(DISTINCT id) FROM ({known}) WHERE id IS NOT "
            "NULL)").fetchone()
        if not n_known:
            return []
        n_delivered, n_common = con.execute(
            f"WITH d AS (SELECT DISTINCT id FROM ({' UNION ALL '.join(delivered)}) WHERE id IS NOT NULL), "
            f"k AS (SELECT DISTINCT id FROM ({known}) WHERE id IS NOT NULL) "
            f"SELECT count(*), count(k.id) FROM d LEFT JOIN k USING (id)").fetchone()
    finally:
        con.close()
    if not n_delivered or n_common:
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
