"""OneRoster 1.2 roles in dbt, on hand-made raw Parquet: the users' effective role and orgs (the
documented rule for users with several roles, ext: roles and their mapping), roles' current state
(bulk, delta, tobedeleted) and the mass-deletion guard over roles."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.integration.test_dbt_marts import D1, D2, failures, org, query, run_dbt_build, write_delivery

pytestmark = pytest.mark.integration
D3 = D2 + dt.timedelta(days=1)


def user12(sid):
    return {"sourcedId": sid, "enabledUser": True, "username": sid, "givenName": "Given",
            "familyName": "Family",
            "primaryOrgSourcedId": "S1"}


def role(sid, user, role_, org_="S1", kind="primary", begin=None, **extra):
    return {"sourcedId": sid, "userSourcedId": user, "roleType": kind, "role": role_, "orgSourcedId": org_,
            "beginDate": dt.date.fromisoformat(begin) if begin else None, **extra}


def orgs(raw):
    write_delivery(raw, "orgs", D1, "bulk", [org("D", "District", "district"), org("S1", "One", "school"),
                                              org("S2", "Two", "school")])


def test_effective_role_and_orgs_follow_the_documented_rule(tmp_path):
    raw = tmp_path / "raw"
    orgs(raw)
    v11 = {"sourcedId": "u11", "enabledUser": True, "orgSourcedIds": ["S2"], "role": "teacher",
           "username": "u11",
           "givenName": "G", "familyName": "F"}
    write_delivery(raw, "users", D1, "bulk",
                   [user12(u) for u in ("u1", "u2", "u3", "u4", "u5", "u6")] + [v11])
    write_delivery(raw, "roles", D1, "bulk", [
        role("r1a", "u1", "ext:coach", kind="secondary"),
        role("r1b", "u1", "teacher", org_="S2"),   # primary wins
        role("r2a", "u2", "aide", kind="secondary",
             begin="2025-08-01"),                             # no primary:
        role("r2b", "u2", "counselor", org_="S2", kind="secondary",
             begin="2025-09-01"),             # latest begin
        role("r3a", "u3", "student", begin="2025-08-01"), role("r3b", "u3", "principal", begin="2025-08-15"),
        role("r4a", "u4", "ext:pupil"), role("r5a", "u5", "ext:other"),
        role("r5b", "u5", "aide", kind="secondary"),
        role("r6a", "u6", "student"), role("r6b", "u6", "aide", kind="secondary"),
        role("r11", "u11", "student"),                     # a 1.1 user keeps its own role and orgs
    ])
    # a delta deletes u6's primary role: the secondary one is its role now
    write_delivery(raw, "roles", D2, "delta", [role("r6a", "u6", "student", status="tobedeleted")])
    result, db = run_dbt_build(tmp_path, "roles", raw, role_extensions={"ext:pupil": "student"})
    assert result.success, failures(result) or result.exception
    got = dict((u, (r, o)) for u, r, o in query(
        db, "select user_sourced_id, role, org_sourced_ids from intermediate.int_users__merged"))
    assert got == {
        "u1": ("teacher", ["S2", "S1"]),
        "u2": ("counselor", ["S2", "S1"]),
        "u3": ("principal", ["S1"]),
        "u4": ("student", ["S1"]),         # mapped by role_extensions
        "u5": ("ext:other", ["S1"]),       # kept as sent, never a known role
        "u6": ("aide", ["S1"]),
        "u11": ("teacher", ["S2"]),
    }
    assert query(db, "select count(*) from intermediate.int_roles__merged") == [(11,)]


def test_mass_deletion_guard_covers_roles(tmp_path):
    raw = tmp_path / "raw"
    orgs(raw)
    write_delivery(raw, "users", D1, "bulk", [user12(f"u{i}") for i in range(10)])
    write_delivery(raw, "roles", D1, "bulk", [role(f"r{i}", f"u{i}", "student") for i in range(10)])
    write_delivery(raw, "users", D3, "delta", [])
    write_delivery(raw, "roles", D3, "bulk", [role(f"r{i}", f"u{i}", "student") for i in range(5)])
    result, db = run_dbt_build(tmp_path, "guard", raw)
    assert ("assert_no_mass_deletion", "fail") in failures(result)
    rows = query(db, "select entity, delivery_date, would_delete, active_before "
                     "from intermediate.int_bulk_deliveries__audited where entity = 'roles'")
    assert rows == [("roles", D3, 5, 10)]
