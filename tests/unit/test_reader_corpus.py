"""Malformed deliveries: each one yields the expected finding (rule, file, line) and never an exception."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import duckdb
import pytest

from kinvolved_assets.oneroster.delivery_files import DeliveryLimits, open_delivery
from kinvolved_assets.validate import validate_delivery
from tests.unit.corpus.reader_deliveries import PII_MARK, VALID, VALID_12, roles_plus, write_delivery

ATT_HEAD = VALID["attendance.csv"].splitlines()[0]
ORGS_HEAD = VALID["orgs.csv"].splitlines()[0]


def att(*rows: str) -> str:
    return ATT_HEAD + "\n" + "".join(r + "\n" for r in rows)


def orgs_plus(*rows: str) -> str:
    return VALID["orgs.csv"] + "".join(r + "\n" for r in rows)


# (case id, files to change, expected (severity, rule, file, line))
FOLDER_CASES = [
    ("empty_file", {"attendance.csv": ""}, ("error", "file.empty", "attendance.csv", None)),
    ("header_only", {"attendance.csv": ATT_HEAD + "\n"}, ("warning", "file.no_rows", "attendance.csv", None)),
    ("wrong_delimiter", {"orgs.csv": VALID["orgs.csv"].replace(",", ";")},
     ("error", "file.wrong_delimiter", "orgs.csv", 1)),
    ("tab_delimiter", {"orgs.csv": VALID["orgs.csv"].replace(",", "\t")},
     ("error", "file.wrong_delimiter", "orgs.csv", 1)),
    ("duplicate_header", {"orgs.csv": ORGS_HEAD + ",name\nd1,,,D,district,,,D2\n"},
     ("error", "header.duplicate_column", "orgs.csv", 1)),
    ("missing_required_column", {"users.csv": VALID["users.csv"].replace(",role,", ",rolex,")},
     ("error", "header.missing_required_column", "users.csv", 1)),
    ("blank_header_cell", {"orgs.csv": ORGS_HEAD + ",\nd1,,,D,district,,,\n"},
     ("error", "header.empty_column_name", "orgs.csv", 1)),
    ("duplicate_sourced_id", {"orgs.csv": orgs_plus("s1,,,Again,school,,d1")},
     ("error", "row.duplicate_sourced_id", "orgs.csv", 4)),
    ("dangling_reference", {"enrollments.csv": VALID["enrollments.csv"] + "e3,,,k1,s1,u404,student,,,\n"},
     ("error", "ref.dangling", "enrollments.csv", 4)),
    ("dangling_class_term",
     {"classes.csv": VALID["classes.csv"] + "k3,,,X,09,c1,,scheduled,,s1,\"t1,t404\",,,\n"},
     ("error", "ref.dangling", "classes.csv", 4)),
    ("bad_date", {"attendance.csv": att("a1,,,,s1,u1,03/01/2024,AE,,,")},
     ("error", "row.bad_date", "attendance.csv", 2)),
    ("impossible_date", {"attendance.csv": att("a1,,,,s1,u1,2024-02-30,AE,,,")},
     ("error", "row.bad_date", "attendance.csv", 2)),
    ("bad_datetime", {"attendance.csv": att("a1,active,yesterday,,s1,u1,2024-03-01,AE,,,")},
     ("error", "row.bad_datetime", "attendance.csv", 2)),
    ("bad_enum", {"classes.csv": VALID["classes.csv"].replace("scheduled", "lecture")},
     ("error", "row.bad_enum", "classes.csv", 2)),
    ("bad_status", {"orgs.csv": orgs_plus("s2,deleted,2024-01-01,X,school,,d1")},
     ("error", "row.bad_enum", "orgs.csv", 4)),
    ("bad_grade_list", {"courses.csv": VALID["courses.csv"].replace('"09,10"', '"09,13th"')},
     ("error", "row.bad_list", "courses.csv", 2)),
    ("bad_guid", {"orgs.csv": orgs_plus("s 2,,,X,school,,d1")}, ("error", "row.bad_guid", "orgs.csv", 4)),
    ("guid_too_long", {"orgs.csv": orgs_plus("s" * 256 + ",,,X,school,,d1")},
     ("error", "row.bad_guid", "orgs.csv", 4)),
    ("bad_guid_list", {"users.csv": VALID["users.csv"].replace("u2,,,true,s1,", "u2,,,true,\"s1,s#2\",")},
     ("error", "row.bad_list", "users.csv", 3)),
    ("bad_boolean", {"users.csv": VALID["users.csv"].replace("u2,,,true,", "u2,,,yes,")},
     ("error", "row.bad_boolean", "users.csv", 3)),
    ("bad_year", {"academicSessions.csv": VALID["academicSessions.csv"].replace(",2024\nt1", ",24\nt1")},
     ("error", "row.bad_year", "academicSessions.csv", 2)),
    ("bad_number", {"attendance.csv": att("a1,,,,s1,u1,2024-03-01,AE,,ten,")},
     ("error", "row.bad_number", "attendance.csv", 2)),
    ("required_value_blank", {"attendance.csv": att("a1,,,,s1,,2024-03-01,AE,,,")},
     ("error", "row.required_missing", "attendance.csv", 2)),
    ("day_fraction_range", {"absenceCodes.csv": VALID["absenceCodes.csv"] + "ac4,,,X,true,false,,,,1.5\n"},
     ("error", "row.out_of_range", "absenceCodes.csv", 5)),
    ("negative_minutes", {"attendance.csv": att("a1,,,,s1,u1,2024-03-01,AE,,-5,")},
     ("error", "row.out_of_range", "attendance.csv", 2)),
    ("date_order",
     {"academicSessions.csv": VALID["academicSessions.csv"].replace("2023-08-01,2023-12-22",
                                                                    "2023-12-22,2023-08-01")},
                                                                    ("error", "row.date_order",
                                                                     "academicSessions.csv", 3)),
    ("too_many_fields",
     {"attendance.csv": att("a1,,,,s1,u1,2024-03-01,AE,,,", "a2,,,,s1,u1,2024-03-02,AE,,,x,y")},
     ("error", "row.malformed", "attendance.csv", 3)),
    ("too_few_fields", {"attendance.csv": att("a1,,,,s1,u1,2024-03-01", "a2,,,,s1,u1,2024-03-02,AE,,,")},
     ("error", "row.malformed", "attendance.csv", 2)),
    ("stray_quote", {"attendance.csv": att("a1,,,,s1,u1,2024-03-01,AE,,,", 'a2,,,,s1,u1,2024-03-02,"A"E,,,')},
     ("error", "row.malformed", "attendance.csv", 3)),
    ("not_csv_xlsx", {"users.csv": b"PK\x03\x04\x14\x00\x00\x00binary-spreadsheet"},
     ("error", "file.not_csv", "users.csv", None)),
    ("utf16", {"orgs.csv": VALID["orgs.csv"].encode("utf-16")},
     ("error", "file.undecodable", "orgs.csv", None)),
    ("ambiguous_files", {"Users_2024.csv": VALID["users.csv"], "users.csv": VALID["users.csv"]},
     ("error", "delivery.ambiguous_file", "users.csv", None)),
    ("unknown_file", {"notes.csv": "a,b\n1,2\n"}, ("warning", "delivery.unknown_file", "notes.csv", None)),
    ("not_a_csv_name", {"readme.txt": "hello"}, ("warning", "delivery.unknown_file", "readme.txt", None)),
    ("ignored_oneroster_file", {"lineItems.csv": "sourcedId\nx\n"},
     ("info", "delivery.ignored_file", "lineItems.csv", None)),
    ("nested_file", {"extra/attendance.csv": VALID["attendance.csv"]},
     ("warning", "delivery.nested_file", "extra/attendance.csv", None)),
    ("manifest_declared_missing",
     {"manifest.csv": "propertyName,value\nfile.demographics,bulk\n", "demographics.csv": None},
     ("error", "manifest.declared_missing", "demographics.csv", None)),
    ("manifest_bad_mode", {"manifest.csv": "propertyName,value\nfile.users,full\n"},
     ("warning", "manifest.bad_mode", "manifest.csv", None)),
    ("manifest_unreadable", {"manifest.csv": "key;value\nx;y\n"},
     ("warning", "manifest.unreadable", "manifest.csv", 1)),
    ("manifest_mode_mismatch",
     {"manifest.csv": "propertyName,value\nfile.attendance,delta\n",
      "attendance.csv": VALID["attendance.csv"]},
      ("warning", "manifest.mode_mismatch", "attendance.csv", None)),
    ("mixed_status",
     {"attendance.csv": att("a1,active,2024-03-01,,s1,u1,2024-03-01,AE,,,", "a2,,,,s1,u1,2024-03-02,AE,,,")},
     ("warning", "mode.mixed_status", "attendance.csv", None)),
    ("empty_delivery", {"orgs.csv": None, "readme.md": "x"}, ("error", "delivery.empty", "delivery", None)),
]


@pytest.mark.parametrize("case,files,expected", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_folder_corpus(tmp_path, case, files, expected):
    rule = expected[1]
    # small deliveries keep the corpus fast: orgs + the files of the case (references need the full delivery)
    base = VALID if rule.startswith("ref.") else {"orgs.csv": VALID["orgs.csv"]}
    rep = validate_delivery(write_delivery(tmp_path, files, base=base))
    sev, rule, file, line = expected
    got = [(f.severity, f.rule, f.file, f.line) for f in rep.findings]
    assert (sev, rule, file, line) in got, got
    if sev == "warning":
        assert not [f for f in rep.findings if f.severity == "error"], got


MANIFEST_11 = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\n"
MANIFEST_12 = VALID_12["manifest.csv"]

# OneRoster 1.2 deliveries (base VALID_12): (case id, files to change, expected (severity, rule, file, line))
V12_CASES = [
    ("v12_missing_roles", {"roles.csv": None}, ("info", "delivery.file_missing", "roles.csv", None)),
    ("v12_role_of_unknown_user", {"roles.csv": roles_plus("r4,,,u404,primary,student,,,s1,")},
     ("error", "ref.dangling", "roles.csv", 5)),
    ("v12_role_at_unknown_org", {"roles.csv": roles_plus("r4,,,u1,secondary,aide,,,s404,")},
     ("error", "ref.dangling", "roles.csv", 5)),
    ("v12_user_without_primary_role",
     {"roles.csv": VALID_12["roles.csv"].replace("r2,,,u2,primary", "r2,,,u2,secondary")},
     ("warning", "roles.no_primary", "roles.csv", 3)),
    ("v12_user_with_two_primary_roles",
     {"roles.csv": VALID_12["roles.csv"].replace("r3,,,u2,secondary", "r3,,,u2,primary")},
     ("warning", "roles.several_primary", "roles.csv", 3)),
    ("v12_bad_role", {"roles.csv": roles_plus("r4,,,u1,secondary,coach,,,s1,")},
     ("error", "row.bad_enum", "roles.csv", 5)),
    ("v12_bad_role_type", {"roles.csv": roles_plus("r4,,,u1,tertiary,aide,,,s1,")},
     ("error", "row.bad_enum", "roles.csv", 5)),
    ("v12_ext_with_comma", {"classes.csv": VALID["classes.csv"].replace("scheduled", '"ext:a,b"')},
     ("error", "row.bad_enum", "classes.csv", 2)),
    ("v12_ignored_file", {"userResources.csv": "sourcedId\nx\n"},
     ("info", "delivery.ignored_file", "userResources.csv", None)),
    ("v12_users_under_11_manifest", {"manifest.csv": MANIFEST_11},
     ("error", "delivery.version_mixed", "manifest.csv", None)),
    ("v12_roles_beside_11_users", {"manifest.csv": None, "users.csv": VALID["users.csv"]},
     ("error", "delivery.version_mixed", "users.csv", None)),
    ("v12_users_with_11_columns",
     {"users.csv": VALID_12["users.csv"].replace("pronouns\n", "pronouns,role\n", 1)},
     ("error", "delivery.version_mixed", "users.csv", 1)),
]


@pytest.mark.parametrize("case,files,expected", V12_CASES, ids=[c[0] for c in V12_CASES])
def test_oneroster_12_corpus(tmp_path, case, files, expected):
    rep = validate_delivery(write_delivery(tmp_path, files, base=VALID_12), expectations=False)
    got = [(f.severity, f.rule, f.file, f.line) for f in rep.findings]
    assert expected in got, got
    if expected[0] != "error":
        assert not [f for f in rep.findings if f.severity == "error"], got
    if expected[1] == "delivery.version_mixed":   # one clear refusal, nothing loaded
        assert [f.rule for f in rep.findings if f.severity == "error"] == ["delivery.version_mixed"]
        assert rep.fatal and rep.files == []


def test_oneroster_11_users_under_a_12_manifest_or_a_10_manifest_is_one_refusal(tmp_path):
    for i, (manifest, rule) in enumerate(((MANIFEST_12, "delivery.version_mixed"),
                                          (MANIFEST_11.replace(",1.1", ",1.0"),
                                           "delivery.version_unsupported"))):
        rep = validate_delivery(write_delivery(tmp_path, {"manifest.csv": manifest}, name=f"d{i}"),
                            expectations=False)
        assert [f.rule for f in rep.findings if f.severity == "error"] == [rule], rep.findings
        assert rep.fatal and rep.files == []


def test_version_is_a_finding_from_the_manifest_or_the_headers(tmp_path):
    cases = ((VALID_12, {}, "1.2", "manifest oneroster.version is 1.2"),
             (VALID_12, {"manifest.csv": None}, "1.2",
              "it has the 1.2-only files roles.csv, userProfiles.csv"),
             (VALID_12, {"manifest.csv": None, "roles.csv": None, "userProfiles.csv": None}, "1.2",
              "users.csv has the 1.2 columns"),
             (VALID, {}, "1.1", "users.csv has the 1.1 columns role/orgSourcedIds"),
             (VALID, {"users.csv": None}, "1.1", "it has no 1.2-only file or column"),
             (VALID, {"manifest.csv": MANIFEST_11}, "1.1", "manifest oneroster.version is 1.1"))
    for i, (base, files, version, why) in enumerate(cases):
        rep = validate_delivery(write_delivery(tmp_path, files, base=base, name=f"d{i}"), expectations=False)
        said = [f.message for f in rep.findings if f.rule == "delivery.version"]
        assert len(said) == 1 and said[0].startswith(f"read as OneRoster {version} "
                                                     "because") and why in said[0], said
        assert not [f for f in rep.findings if f.severity == "error"], rep.findings


def test_oneroster_12_delivery_lands_users_roles_and_ext_values(tmp_path):
    ext = {"orgs.csv": VALID["orgs.csv"].replace("s1,,,Demo High,school", "s1,,,Demo High,ext:campus"),
           "academicSessions.csv": VALID["academicSessions.csv"].replace(",term,", ",ext:quarter,"),
           "classes.csv": VALID["classes.csv"].replace("homeroom", "ext:advisory"),
           "enrollments.csv": VALID["enrollments.csv"].replace("e2,,,k1,s1,u2,teacher",
                                                               "e2,,,k1,s1,u2,ext:observer"),
           "demographics.csv": VALID["demographics.csv"].replace(",female,", ",ext:nonbinary,"),
           "roles.csv": roles_plus("r4,,,u2,secondary,ext:coach,,,s1,")}
    out = tmp_path / "wh"
    with open_delivery(write_delivery(tmp_path, ext, base=VALID_12)) as delivery:
        assert delivery.contract.version == "1.2" and not delivery.fatal
        res = delivery.load_many(list(delivery.contract.entity_names), out, "2024-03-06")
    assert not [f for r in res.values() for f in r.errors], [f for r in res.values() for f in r.errors]
    assert (res["users"].rows, res["roles"].rows, res["user_profiles"].rows) == (2, 4, 1)
    assert all(r.oneroster_version == "1.2" for r in res.values())
    q = duckdb.connect()

    def values(entity, col):
        return sorted(v for (v,) in q.execute(f"select {col} from '{res[entity].parquet_path}'").fetchall())
    assert "ext:campus" in values("orgs", "type") and "ext:quarter" in values("academic_sessions", "type")
    assert "ext:advisory" in values("classes", '"classType"') and "ext:observer" in values("enrollments",
                                                                                           "role")
    assert values("demographics", "sex") == ["ext:nonbinary"] and "ext:coach" in values("roles", "role")
    cols = [r[0] for r in q.execute(f"describe select * from '{res['users'].parquet_path}'").fetchall()]
    assert "role" not in cols and "primaryOrgSourcedId" in cols and "pronouns" in cols
    # an ext: value is OneRoster 1.2 only
    rep = validate_delivery(write_delivery(tmp_path, {"classes.csv": ext["classes.csv"]}, name="v11"),
                        expectations=False)
    assert ("error", "row.bad_enum", "classes.csv",
            3) in [(f.severity, f.rule, f.file, f.line) for f in rep.findings]


def test_oneroster_12_findings_carry_no_personal_data(tmp_path):
    bad = VALID_12["users.csv"].replace("u2,,,true,", "u2,,,maybe,").replace(",s1,\n", ",s 1,\n")
    rep = validate_delivery(write_delivery(tmp_path, {"users.csv": bad,
                                                      "roles.csv": roles_plus("r4,,,u1,x,y,,,s1,")},
                                   base=VALID_12))
    assert {"row.bad_boolean", "row.bad_enum"} <= {f.rule for f in rep.findings}
    assert PII_MARK not in json.dumps(rep.to_dict())


def _zip(tmp_path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], name="z.zip") -> Path:
    p = tmp_path / name
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return p


def _valid_members() -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in VALID.items()]


def check(rep, rule, file=None):
    got = [(f.rule, f.file) for f in rep.findings]
    assert any(r == rule and (file is None or f == file) for r, f in got), got
    assert rep.fatal
    assert rep.files == []


def test_truncated_zip(tmp_path):
    z = write_delivery(tmp_path, {}, as_zip=True)
    data = z.read_bytes()
    z.write_bytes(data[: len(data) // 2])
    check(validate_delivery(z), "delivery.bad_zip", "delivery.zip")


def test_corrupt_member_crc(tmp_path):
    z = write_delivery(tmp_path, {}, as_zip=True)
    data = bytearray(z.read_bytes())
    idx = data.find(b"orgs.csv") + len("orgs.csv") + 5
    data[idx] ^= 0xFF
    z.write_bytes(bytes(data))
    check(validate_delivery(z), "delivery.bad_zip", "delivery.zip")


def test_not_a_zip_with_zip_suffix(tmp_path):
    z = tmp_path / "delivery.zip"
    z.write_bytes(b"this is not a zip")
    check(validate_delivery(z), "delivery.bad_zip")


def test_zip_bomb_ratio(tmp_path):
    members = _valid_members() + [("attendance_big.csv", b"0" * (8 << 20))]
    z = _zip(tmp_path, members)
    check(validate_delivery(z, DeliveryLimits(max_compression_ratio=100)), "delivery.compression_ratio")


def test_zip_too_large(tmp_path):
    z = _zip(tmp_path, _valid_members())
    check(validate_delivery(z, DeliveryLimits(max_uncompressed_bytes=500)), "delivery.too_large")


def test_zip_too_many_members(tmp_path):
    members = _valid_members() + [(f"junk{i}.txt", b"x") for i in range(20)]
    check(validate_delivery(_zip(tmp_path, members), DeliveryLimits(max_members=10)),
          "delivery.too_many_members")


def test_folder_too_many_files(tmp_path):
    files = {f"junk{i}.txt": "x" for i in range(20)}
    check(validate_delivery(write_delivery(tmp_path, files), DeliveryLimits(max_members=10)),
          "delivery.too_many_members")


def test_zip_slip_dotdot(tmp_path):
    check(validate_delivery(_zip(tmp_path, _valid_members() + [("../../evil.csv", b"a\n")])),
          "delivery.unsafe_path")


def test_zip_absolute_path(tmp_path):
    info = zipfile.ZipInfo("x")
    info.filename = "/etc/evil.csv"
    check(validate_delivery(_zip(tmp_path, _valid_members() + [(info, b"a\n")])), "delivery.unsafe_path")


def test_zip_symlink(tmp_path):
    info = zipfile.ZipInfo("users_link.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    check(validate_delivery(_zip(tmp_path, _valid_members() + [(info, b"/etc/passwd")])), "delivery.symlink")


def test_folder_symlink_not_followed(tmp_path):
    folder = write_delivery(tmp_path, {"users.csv": None})
    (folder / "users.csv").symlink_to("/etc/passwd")
    rep = validate_delivery(folder)
    assert any(f.rule == "delivery.symlink" for f in rep.findings)
    assert "users" not in {f.entity for f in rep.files}


def test_nonexistent_path(tmp_path):
    check(validate_delivery(tmp_path / "nope"), "delivery.not_found")


def test_zip_inside_zip_is_unknown(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("users.csv", VALID["users.csv"])
    rep = validate_delivery(_zip(tmp_path, _valid_members() + [("more.zip", inner.getvalue())]))
    assert any(f.rule == "delivery.unknown_file" and f.file == "more.zip" for f in rep.findings)
    assert not rep.fatal


def test_oneroster_12_expectations_check_roles_and_ext_values(tmp_path):
    from kinvolved_assets.expectations.rules import Params, rules_for

    p12 = Params(oneroster_version="1.2")
    users = {r.id for r in rules_for("users", p12)}
    assert "users.role.not_null" not in users and "users.primaryOrgSourcedId.references_orgs" in users
    roles = {r.id: r for r in rules_for("roles", p12)}
    assert {"roles.userSourcedId.references_users", "roles.orgSourcedId.references_orgs",
            "roles.role.in_set"} <= set(roles)
    assert (roles["roles.userSourcedId.references_users"].severity
            == roles["roles.orgSourcedId.references_orgs"].severity == "ERROR")
    ref = next(r for r in rules_for("attendance", p12) if r.id == "attendance.userSourcedId.references_roles")
    assert (ref.severity == "ERROR" and ref.params["filter"] == ("role", "student")
            and ref.params["keys"] == ("userSourcedId",))
    assert next(r for r in rules_for("attendance",
                                     p12) if r.id
                                     == "attendance.userSourcedId.references_users").params["filter"] is None
    # ext: values pass the suites; attendance of a user whose only role is not student is blocking
    ok = validate_delivery(write_delivery(tmp_path,
                                          {"roles.csv": roles_plus("r4,,,u2,secondary,ext:coach,,,s1,"),
                                              "classes.csv": VALID["classes.csv"].replace("homeroom",
                                                                                          "ext:advisory")},
                                  base=VALID_12, name="ok"))
    assert ok.ok and {e["entity"] for e in ok.expectations} >= {"users", "roles",
                                                                "user_profiles"}, ok.expectations
    att = VALID["attendance.csv"] + "a4,,,,s1,u2,2024-03-05,AE,,,\n"
    bad = validate_delivery(write_delivery(tmp_path, {"attendance.csv": att}, base=VALID_12, name="bad"))
    failed = {e["entity"]: e for e in bad.expectations if not e["passed"]}
    assert list(failed) == ["attendance"] and failed["attendance"]["blocking"]
    counts = failed["attendance"]["metadata"]["unexpected_counts"]
    assert (counts["attendance.userSourcedId.references_roles"] == 1
            and counts["attendance.userSourcedId.references_users"] == 0)


def test_published_doc_lists_both_versions():
    from kinvolved_assets.oneroster import spec

    doc = (Path(__file__).resolve().parents[2] / "docs" / "oneroster-plus.md").read_text()
    assert "OneRoster 1.1 and 1.2 side by side" in doc and "not accepted yet" not in doc
    for ent in spec.ONEROSTER_12.entities:
        assert ent.file_name in doc
        for col in ent.columns:
            assert f"`{col.name}`" in doc, (ent.name, col.name)
    for name in spec.IGNORED_ONEROSTER_12_FILES:
        assert f"`{name}`" in doc, name
