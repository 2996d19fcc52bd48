"""The rare path, only when rows were refused or a sourcedId repeats: the refused rows with their
original values and first broken rule (``rule|column``), each paired with its record number.

A second parallel pass over the CSV types and checks again only the records whose sourcedId is one
of the refused rows' or the repeated ones (or blank), and pairs each with its record number in the
scan's table by its typed values. Rows alike in those are interchangeable unless their raw text
differs (two bad values that both read as NULL): then the records are numbered in one ordered scan.
The result is the temp table ``src``; a repeated sourcedId refuses every row but the first."""

from __future__ import annotations

from pathlib import Path

from .load_plan import LoadPlan, csv_scan


def duplicate_keys(con, plan: LoadPlan, n_repeat: int) -> int:
    """Duplicate sourcedIds among the good rows (temp table ``dup``: key, first record); how many."""
    if not n_repeat:
        return 0
    sid_k = plan.knames["sourcedId"]
    con.execute(f"CREATE TEMP TABLE dup_h AS SELECT hash({sid_k}) AS h FROM t WHERE _ok GROUP BY 1 "
                "HAVING count(*) > 1")
    con.execute(f"""CREATE TEMP TABLE dup AS SELECT {sid_k} AS k, min(rowid) + 1 AS first_rn
                    FROM t WHERE _ok AND hash({sid_k}) IN (SELECT h FROM dup_h)
                    GROUP BY 1 HAVING count(*) > 1""")
    return con.execute("SELECT count(*) FROM dup").fetchone()[0]


def collect_refused(con, plan: LoadPlan, path: Path, n_dupkeys: int) -> tuple[int, int]:
    """Table ``src`` of the refused rows; (refused rows, of which repeated sourcedIds)."""
    sid_k = plan.knames["sourcedId"]
    sid = plan.vals["sourcedId"]
    rule_case, typed_inner, scan = plan.rule_case, plan.typed_inner, csv_scan(path, plan.ncols)
    dup_t = f" OR {sid_k} IN (SELECT k FROM dup)" if n_dupkeys else ""
    dup_csv = f" OR {sid} IN (SELECT k FROM dup)" if n_dupkeys else ""
    keys = ", ".join(plan.knames[c.name] for c in plan.ent.columns)
    con.execute(f"CREATE TEMP TABLE cand AS SELECT rowid + 1 AS _rn, {keys} FROM t WHERE NOT _ok{dup_t}")
    con.execute("DROP TABLE IF EXISTS rj")
    con.execute("DROP TABLE IF EXISTS rs")
    con.execute(f"""CREATE TEMP TABLE raw2 AS SELECT * FROM (
            SELECT *, {rule_case} AS _rule, {plan.raw_hash} AS _rh FROM (SELECT *, {typed_inner} FROM (
                SELECT * FROM {scan} WHERE {sid} IS NULL OR {sid} IN (SELECT {sid_k} FROM cand))))
            WHERE _rule IS NOT NULL{dup_csv}""")
    ambiguous = con.execute(f"""SELECT count(*) FROM (SELECT {keys} FROM raw2 GROUP BY ALL
                                HAVING count(DISTINCT _rh) > 1)""").fetchone()[0]
    if ambiguous:
        con.execute("DROP TABLE IF EXISTS rj")
        con.execute("DROP TABLE IF EXISTS rs")
        con.execute(f"""CREATE TEMP TABLE src AS SELECT * FROM (
                SELECT *, {rule_case} AS _rule FROM (SELECT *, row_number() OVER () AS _rn
                    FROM (SELECT *, {typed_inner} FROM {scan})))
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
    return n_bad, n_dup_rows
