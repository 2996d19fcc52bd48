"""OneRoster 1.2 roles.csv: the one check a roles file needs beyond its columns.

A user's effective role is its primary role (docs/oneroster-plus.md, "Roles"). In a bulk roles.csv
(the complete set of roles) every user with active roles should have exactly one primary role: a
user with none, or with several, is reported (warning, by userSourcedId) and the documented rule
picks one. A delta may carry a secondary role alone (the primary one is in current state), so it is
not checked.
"""

from __future__ import annotations

from ..sql import string as _lit
from .discover import DeliveryLimits
from .findings import Finding, finding
from .load import LoadResult
from .scratch import scratch_cursor


def primary_role_findings(res: LoadResult, limits: DeliveryLimits) -> list[Finding]:
    if res.mode != "bulk" or res.parquet_path is None or not res.rows:
        return []
    con = scratch_cursor(limits.threads, limits.memory_limit)
    try:
        rows = con.execute(f"""
            SELECT userSourcedId, count(*) FILTER (WHERE roleType = 'primary') AS n_primary, count(*) AS n,
                min(_line)
            FROM read_parquet({_lit(str(res.parquet_path))})
            WHERE coalesce(status, 'active') = 'active' AND userSourcedId IS NOT NULL
            GROUP BY 1 HAVING count(*) FILTER (WHERE roleType = 'primary') <> 1
            ORDER BY min(_line)""").fetchall()
    finally:
        con.close()
    out: list[Finding] = []
    cap = limits.max_findings_per_rule
    for rule, want in (("roles.no_primary", 0), ("roles.several_primary", 2)):
        hits = [r for r in rows if (r[1] == 0) == (want == 0)]
        for user, n_primary, n, line in hits[:cap]:
            what = (f"has {n} role(s), none primary; the first of them by the role rule is read as the "
                    "user's role"
                    if want == 0 else f"has {n_primary} primary roles; the first of them by the role rule is "
                                      "read as the user's role")
            out.append(finding(rule,
                               f"line {line}: userSourcedId {user!r} {what}. Mark exactly one role of each "
                               "user primary.",
                               file=res.file_name, line=int(line), column="roleType"))
        if len(hits) > cap:
            out.append(finding("rows.truncated",
                               f"{len(hits) - cap} more users broke {rule} (total {len(hits)}).",
                               file=res.file_name, column="roleType", severity="info"))
    return out
