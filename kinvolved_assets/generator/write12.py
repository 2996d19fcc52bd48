"""The OneRoster 1.2 layout of the same district: users.csv without role/orgSourcedIds, plus roles.csv.

Both files are projections of the 1.1 users projection (``Renderer.users``), so a 1.2 export holds
exactly the people, schools and roles of the 1.1 one: each user has one primary role at its school
(role sourcedId ``rol-<user>``); a teacher on every fourth line of users.csv also has a secondary
``ext:coach`` role at the same school (an extension value that never outranks the primary role).
"""

from __future__ import annotations

import pyarrow as pa

from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import ident as _q

SQLTable = tuple[str, pa.Table]
METADATA_COLUMNS = ("metadata.localCode",)     # what the 1.1 users projection adds with quirks


def users_12(users_11: SQLTable, quirks: bool) -> SQLTable:
    sql, table = users_11
    exprs = {c: _q(c) for c in spec.USERS_12.column_names if c in spec.USERS.column_names}
    exprs.update({
        "userMasterIdentifier": "CASE WHEN role = 'student' THEN 'M' || identifier END",
        "primaryOrgSourcedId": '"orgSourcedIds"',
    })
    cols = [f"{exprs.get(c, 'NULL')} AS {_q(c)}" for c in spec.USERS_12.column_names]
    cols += [_q(m) for m in METADATA_COLUMNS if quirks]
    return f"SELECT {', '.join(cols)} FROM ({sql})", table


def roles_12(users_11: SQLTable) -> SQLTable:
    sql, table = users_11
    one = {
        "sourcedId": "'rol-' || \"sourcedId\"", "status": '"status"',
        "dateLastModified": '"dateLastModified"',
        "userSourcedId": '"sourcedId"', "roleType": "'primary'", "role": '"role"',
        "orgSourcedId": '"orgSourcedIds"',
    }
    coach = {**one, "sourcedId": "'rol-coach-' || \"sourcedId\"", "roleType": "'secondary'",
             "role": "'ext:coach'"}

    def select(exprs: dict[str, str], where: str) -> str:
        cols = ", ".join(f"{exprs.get(c, 'NULL')} AS {_q(c)}" for c in spec.ROLES.column_names)
        return f"SELECT {cols}, _k FROM u{where}"

    body = (f"WITH u AS (SELECT *, row_number() OVER () AS _k FROM ({sql})) "
            f"SELECT * EXCLUDE (_k) FROM ({select(one, '')} UNION ALL "
            f"{select(coach, ' WHERE role = ' + chr(39) + 'teacher' + chr(39) + ' AND _k % 4 = 0')}) ORDER "
            "BY _k, sourcedId")
    return body, table
