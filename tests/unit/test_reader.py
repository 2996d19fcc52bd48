"""The OneRoster+ delivery reader: quirky-but-valid deliveries, the raw Parquet contract, the CLI."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from kinvolved_assets.oneroster import delivery_files as files_module
from kinvolved_assets.oneroster import load, scratch, spec
from kinvolved_assets.oneroster.delivery_files import DeliveryLimits, open_delivery
from kinvolved_assets.oneroster.discover import classify
from kinvolved_assets.oneroster.findings import RULES, Finding
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text
from tests.unit.corpus.reader_deliveries import PII_MARK, VALID, crlf, quote_all, write_delivery

D = "2024-03-05"


def rules(findings, severity=None):
    return {f.rule for f in findings if severity is None or f.severity == severity}


def errors(findings):
    return [f for f in findings if f.severity == "error"]


def q(sql: str):
    return duckdb.sql(sql).fetchall()


@pytest.fixture(params=["small_file_path", "large_file_path"])
def file_path(request, monkeypatch):
    """Run a test on both loader paths: small files (scratch DuckDB, reference ids checked per row) and
    large ones (own DuckDB under a memory limit sized to the file, reference ids checked per distinct
    value, physical lines counted on a second thread)."""
    if request.param == "large_file_path":
        monkeypatch.setattr(load, "LARGE_FILE_BYTES", 0)
    return request.param


# ------------------------------------------------------------------ valid and quirky deliveries

def test_valid_delivery_loads_without_errors(tmp_path):
    rep = validate_delivery(write_delivery(tmp_path, {}))
    assert errors(rep.findings) == []
    by = {f.entity: f for f in rep.files}
    assert set(by) == {e.name for e in spec.ENTITIES}
    assert by["attendance"].rows == 3 and by["attendance"].mode == "bulk"
    assert by["attendance"].min_date == "2024-03-01" and by["attendance"].max_date == "2024-03-05"


@pytest.mark.parametrize("large_from", [None, 0, 236])
def test_load_many_gives_what_loading_one_file_at_a_time_gives(tmp_path, monkeypatch, large_from):
    """Small files load side by side: same Parquet rows, results and findings as one at a time, in order.
    large_from: every file small (default threshold), every file large, or some of each (the large ones
    load on this thread, the scratch databases released before each once the small ones are done)."""
    if large_from is not None:
        monkeypatch.setattr(load, "LARGE_FILE_BYTES", large_from)
        monkeypatch.setattr(files_module, "LARGE_FILE_BYTES", large_from)
    released, release = [], scratch.release_idle
    monkeypatch.setattr(scratch, "release_idle", lambda: (released.append(1), release()))
    files = {"users.csv": VALID["users.csv"] + "u9,,,true,org1,student,,,x,y,,,,,,,,\n"}   # one bad row
    delivery_dir = write_delivery(tmp_path / "delivery", files)
    names = [e.name for e in spec.ENTITIES]
    with open_delivery(delivery_dir, DeliveryLimits(threads=2)) as delivery:
        many = delivery.load_many(names, tmp_path / "many", D)
        one = {n: delivery.load(n, tmp_path / "one", D) for n in names}
    assert list(many) == names
    for n in names:
        a, b = many[n], one[n]
        assert (a.rows, a.rejected_rows, a.mode, a.failed, a.min_date) == (b.rows, b.rejected_rows, b.mode,
                                                                           b.failed, b.min_date)
        assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
        cols = "* EXCLUDE (_delivery_date)"
        assert q(f"SELECT {cols} FROM '{a.parquet_path}' ORDER BY "
                 "_line") == q(f"SELECT {cols} FROM '{b.parquet_path}' ORDER BY _line")
    assert many["users"].rejected_rows == 1 and many["attendance"].rows == 3
    large = sum(f.size >= load.LARGE_FILE_BYTES for f in delivery.files.values())
    if large_from == 236:
        assert 0 < large < len(names)       # some of each
    if large == 0:
        assert released == []              # nothing large: the scratch databases are kept
    elif large == len(names):
        assert released                    # every file large: released before they load
    # some of each: released before a large file only if no small one is still loading at that moment,
    # which depends on the threads' timing; the Parquet, results and findings above do not


def test_quirky_delivery_loads_with_warnings_and_no_errors(tmp_path):
    files = {k: None for k in VALID}
    files["Kinvolved_Users.csv"] = "\ufeff" + crlf(quote_all(VALID["users.csv"]))
    files["academic_sessions_2024.csv"] = crlf(VALID["academicSessions.csv"])
    files["ORGS.csv"] = VALID["orgs.csv"]
    files["Courses-SCH01.csv"] = quote_all(VALID["courses.csv"])
    files["classes.csv"] = VALID["classes.csv"]
    files["enrollments.csv"] = VALID["enrollments.csv"]
    files["absence-codes.csv"] = VALID["absenceCodes.csv"].replace("ac1,,,AE,true,true", "ac1,,,AE,TRUE,True")
    att = VALID["attendance.csv"].splitlines()
    att[0] += ",metadata.district.code"
    att = [att[0]] + [r + ",X1" for r in att[1:]]
    files["attendance_20240301.csv"] = "\ufeff" + crlf("\n".join(att) + "\n")
    files["__MACOSX/._users.csv"] = b"\x00\x05junk"
    files[".DS_Store"] = b"\x00\x00"
    path = write_delivery(tmp_path, files, as_zip=True, top_folder="export_2024-03-05")
    rep = validate_delivery(path)
    assert errors(rep.findings) == [], [f.to_dict() for f in errors(rep.findings)]
    assert "row.noncanonical_value" in rules(rep.findings, "warning")
    by = {f.entity: f for f in rep.files}
    assert by["users"].rows == 2 and by["users"].name == "export_2024-03-05/Kinvolved_Users.csv"
    assert by["academic_sessions"].rows == 2
    assert "demographics" not in by
    assert not any(f.rule == "delivery.unknown_file" for f in rep.findings)


def test_released_scratch_database_serves_open_cursors_and_is_replaced():
    cur = scratch.scratch_cursor(2, "1GB")
    cur.execute("CREATE TEMP TABLE x AS SELECT 41 AS v")
    before = scratch._databases[next(k for k in scratch._databases if k[2] == "1GB")]
    scratch.release_idle()
    assert cur.execute("SELECT v + 1 FROM x").fetchone() == (42,)    # still usable until closed
    cur.close()
    fresh = scratch.scratch_cursor(2, "1GB")
    assert scratch._databases[next(k for k in scratch._databases if k[2] == "1GB")] is not before
    assert fresh.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'x'").fetchone() == (0,)
    fresh.close()


def test_large_file_memory_limit_follows_the_file_size():
    limits = DeliveryLimits()
    assert load.load_memory_limit(limits, 10 << 20) == "160MiB"          # floor
    assert load.load_memory_limit(limits, 300 << 20) == "900MiB"         # 3x the file
    assert load.load_memory_limit(limits,
                                  2 << 30) == f"{4_000_000_000 // 1024**2}MiB"   # never above memory_limit
    assert load.load_memory_limit(DeliveryLimits(memory_limit="512MiB"), 300 << 20) == "512MiB"
    assert load.load_memory_limit(DeliveryLimits(memory_limit="75%"),
                                  300 << 20) == "75%"   # DuckDB's own forms pass through


def test_filename_classification():
    assert classify("attendance_20220301") == ("entity", {"attendance"})
    assert classify("Kinvolved_Users") == ("entity", {"users"})
    assert classify("academic_sessions") == ("entity", {"academic_sessions"})
    assert classify("ACADEMICSESSIONS") == ("entity", {"academic_sessions"})
    assert classify("absence-codes-2024") == ("entity", {"absence_codes"})
    assert classify("classResources")[0] == "ignored"
    assert classify("roles") == ("entity", {"roles"})
    assert classify("userResources")[0] == "ignored"
    assert classify("manifest")[0] == "manifest"
    assert classify("readme")[0] == "unknown"


def test_metadata_columns_kept_and_types_follow_spec(tmp_path):
    att = VALID["attendance.csv"].splitlines()
    att[0] += ",metadata.source"
    att = [att[0]] + [r + ",sis" for r in att[1:]]
    delivery_path = write_delivery(tmp_path, {"attendance.csv": "\n".join(att) + "\n"})
    out = tmp_path / "wh"
    with open_delivery(delivery_path) as delivery:
        res = delivery.load("attendance", out, D)
        assert not res.failed and res.rows == 3
        for ent in spec.ENTITIES:
            r = delivery.load(ent.name, out, D)
            assert not r.failed, (ent.name, r.findings)
            desc = dict((c, t) for c, t, *_ in q(f"DESCRIBE SELECT * FROM '{r.parquet_path}'"))
            for col in ent.columns:
                assert desc[col.name] == col.duckdb_type, (ent.name, col.name, desc[col.name])
            for col, typ in spec.LOADER_COLUMNS.items():
                assert desc[col] == typ
    desc = dict((c, t) for c, t, *_ in q(f"DESCRIBE SELECT * FROM '{res.parquet_path}'"))
    assert desc["metadata.source"] == "VARCHAR"
    rows = q("SELECT _line, \"metadata.source\", _mode, _file, _delivery_date, status FROM "
             f"'{res.parquet_path}' ORDER BY _line")
    assert [r[0] for r in rows] == [2, 3, 4]
    assert rows[0][1:5] == ("sis", "bulk", "attendance.csv", __import__("datetime").date(2024, 3, 5))
    assert rows[0][5] == "active"   # blank status in a bulk is active
    assert (out / "raw" / "attendance" / f"delivery_date={D}" / "part-0.parquet").exists()
    files_row = q("SELECT entity, delivery_date, mode, file_name, sha256, rows, rejected_rows, min_date, "
                  f"max_date FROM '{out}/raw/_files/attendance/delivery_date={D}/part-0.parquet'")
    assert len(files_row) == 1 and files_row[0][0] == "attendance" and files_row[0][5] == 3
    assert str(files_row[0][7]) == "2024-03-01" and str(files_row[0][8]) == "2024-03-05"
    assert not (out / "rejects" / "attendance").exists()


def test_lists_enums_and_defaults(tmp_path):
    delivery_path = write_delivery(tmp_path, {})
    out = tmp_path / "wh"
    with open_delivery(delivery_path) as delivery:
        cls = delivery.load("classes", out, D)
        ac = delivery.load("absence_codes", out, D)
    assert q(f"SELECT periods, termSourcedIds FROM '{cls.parquet_path}' WHERE sourcedId = 'k1'") == [(["1",
                                                                                                       "2"],
                                                                                                       ["t1"])]
    frac = dict(q(f"SELECT title, dayFraction FROM '{ac.parquet_path}'"))
    assert frac == {"AE": 1.0, "T": 0.0, "HD": 0.5}


def test_delta_inferred_and_inactive_read_as_tobedeleted(tmp_path):
    att = (VALID["attendance.csv"].splitlines()[0] + "\n"
           "a1,active,2024-03-05T10:00:00Z,,s1,u1,2024-03-01,AE,,,\n"
           "a2,inactive,2024-03-05T10:00:00.123Z,,s1,u1,2024-03-02,AE,,,\n"
           "a3,Active,2024-03-05,,s1,u1,2024-03-03,AE,,,\n")
    delivery_path = write_delivery(tmp_path, {"attendance.csv": att})
    with open_delivery(delivery_path) as delivery:
        res = delivery.load("attendance", tmp_path / "wh", D)
    assert res.mode == "delta" and res.rows == 3 and not errors(res.findings)
    assert {"row.status_inactive", "row.noncanonical_value"} <= rules(res.findings, "warning")
    assert q(f"SELECT status FROM '{res.parquet_path}' ORDER BY _line") == [("active",), ("tobedeleted",),
                                                                            ("active",)]


def test_manifest_modes_and_disagreement(tmp_path):
    manifest = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,delta\n"
                "file.users,bulk\nfile.attendance,bulk\nfile.demographics,absent\n")
    delivery_path = write_delivery(tmp_path, {"manifest.csv": manifest})
    rep = validate_delivery(delivery_path)
    mism = [f for f in rep.findings if f.rule == "manifest.mode_mismatch"]
    assert [f.file for f in mism] == ["orgs.csv"]    # declared delta, data bulk: data wins
    assert any(f.rule == "manifest.declared_absent" and f.file == "demographics.csv" for f in rep.findings)
    assert {f.entity: f.mode for f in rep.files}["orgs"] == "bulk"
    assert not errors(rep.findings)


def test_missing_file_is_not_present_and_writes_nothing(tmp_path):
    delivery_path = write_delivery(tmp_path, {"attendance.csv": None})
    out = tmp_path / "wh"
    with open_delivery(delivery_path) as delivery:
        res = delivery.load("attendance", out, D)
    assert res.present is False and res.rows == 0 and not res.failed
    assert not (out / "raw" / "attendance").exists()


def test_reordered_and_unknown_columns(tmp_path):
    orgs = ("name,sourcedId,type,status,dateLastModified,parentSourcedId,identifier,notes\n"
            "X,d1,district,,,,,hello\n")
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": orgs})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert {"header.reordered", "header.unknown_column"} <= rules(res.findings, "warning")
    assert not errors(res.findings)
    assert q(f"SELECT sourcedId, name, type FROM '{res.parquet_path}'") == [("d1", "X", "district")]
    assert "notes" not in [r[0] for r in q(f"DESCRIBE SELECT * FROM '{res.parquet_path}'")]


def test_absent_twice_header_reads_second_as_excused(tmp_path):
    ac = "sourcedId,status,dateLastModified,title,absent,absent,description\nac1,,,AE,true,false,x\n"
    with open_delivery(write_delivery(tmp_path, {"absenceCodes.csv": ac})) as delivery:
        res = delivery.load("absence_codes", tmp_path / "wh", D)
    assert "header.absent_twice" in rules(res.findings, "warning") and not errors(res.findings)
    assert q(f"SELECT absent, excused FROM '{res.parquet_path}'") == [(True, False)]


def test_cp1252_fallback(tmp_path):
    orgs = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
            "d1,,,Caf\u00e9 \u201cD\u201d,district,,\n")
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": orgs.encode("cp1252")})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert "file.encoding_fallback" in rules(res.findings, "warning") and not errors(res.findings)
    assert q(f"SELECT name FROM '{res.parquet_path}'") == [("Caf\u00e9 \u201cD\u201d",)]


def test_cp1252_late_in_a_large_file(tmp_path, file_path):
    head = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    body = "".join(f"o{i},,,Org {i},school,,\n" for i in range(5000))
    data = (head + body).encode() + b"o_last,,,Caf\xe9,school,,\n"
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": data})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert "file.encoding_fallback" in rules(res.findings) and res.rows == 5001 and not errors(res.findings)


def test_embedded_newlines_keep_physical_line_numbers(tmp_path, file_path):
    orgs = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
            'd1,,,"Multi\nline\nname",district,,\n'
            "s1,,,OK,school,,d1\n"
            "s2,,,Bad,nope,,d1\n"
            "s3,,,Extra,school,,d1,x\n"
            "s4,,,Fine,school,,d1\n")
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": orgs})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert dict(q(f"SELECT sourcedId, _line FROM '{res.parquet_path}'")) == {"d1": 2, "s1": 5, "s4": 8}
    assert {(f.rule, f.line) for f in errors(res.findings)} == {("row.bad_enum", 6), ("row.malformed", 7)}
    assert sorted(q(f"SELECT _line, _rule FROM '{res.rejects_path}'")) == [(6, "row.bad_enum"),
                                                                           (7, "row.malformed")]


def test_rejects_keep_original_values_and_reason(tmp_path):
    att = VALID["attendance.csv"] + f"a9,,,,s1,u1,2024-02-30,AE,,,{PII_MARK} x\n"
    with open_delivery(write_delivery(tmp_path, {"attendance.csv": att})) as delivery:
        res = delivery.load("attendance", tmp_path / "wh", D)
    assert res.rows == 3 and res.rejected_rows == 1
    row = q(f"SELECT sourcedId, date, comment, _line, _rule, _reason FROM '{res.rejects_path}'")[0]
    assert row[:5] == ("a9", "2024-02-30", f"{PII_MARK} x", 5, "row.bad_date")
    assert row[5].startswith("date:")
    assert Path(res.rejects_path) == (tmp_path / "wh" / "rejects" / "attendance" / f"delivery_date={D}"
                                      / "rejects.parquet")


@pytest.mark.parametrize("look_alike", [False, True])
def test_rejected_rows_keep_their_own_lines_and_values(tmp_path, look_alike, file_path):
    # rows read again for the rejects are paired with their record by typed values: two identical bad
    # rows, a repeated id, a record spanning two lines and a line that cannot be split must each keep
    # their own line and original text; so must two rows alike but for the bad value (look_alike:
    # both dates read as NULL, numbered by the ordered scan)
    head = VALID["attendance.csv"].splitlines()[0]
    rows = [
        "a1,,,,s1,u1,2024-03-01,AE,,,",                   # line 2
        'a2,,,,s1,u1,2024-03-02,AE,,,"two\nlines"',       # lines 3-4
        "b1,,,,s1,u1,2024-02-30,AE,,,",                   # line 5: bad date
        "b1,,,,s1,u1,2024-02-31,AE,,," if look_alike else "b9,,,,s1,u1,2024-02-31,AE,,,",   # line 6
        "a3,,,,s1,u1,2024-03-03,AE,,,",                   # line 7
        "b2,,,,s1,u1,2024-13-01,AE,,,",                   # line 8: bad date
        "b2,,,,s1,u1,2024-13-01,AE,,,",                   # line 9: the same row again
        "a1,,,,s1,u1,2024-03-04,T,,,",                    # line 10: repeated sourcedId
        "a4,,,,s1,u1,2024-03-05,AE,,,,extra",             # line 11: one field too many
        "a5,,,,s1,u1,2024-03-06,AE,,,",                   # line 12
    ]
    with open_delivery(write_delivery(tmp_path,
                                      {"attendance.csv": head + "\n" + "\n".join(rows) + "\n"})) as delivery:
        res = delivery.load("attendance", tmp_path / "wh", D)
    assert sorted(q(f"SELECT sourcedId, _line FROM '{res.parquet_path}'")) == [("a1", 2), ("a2", 3),
                                                                               ("a3", 7), ("a5", 12)]
    rejected = sorted(q(f"SELECT _line, sourcedId, date, _rule FROM '{res.rejects_path}'"))
    assert rejected == [(5, "b1", "2024-02-30", "row.bad_date"),
                        (6, "b1" if look_alike else "b9", "2024-02-31", "row.bad_date"),
                        (8, "b2", "2024-13-01", "row.bad_date"), (9, "b2", "2024-13-01", "row.bad_date"),
                        (10, "a1", "2024-03-04", "row.duplicate_sourced_id"),
                        (11, None, None, "row.malformed")]
    assert res.rows == 4 and res.rejected_rows == 6


def test_bad_reference_ids_rejected_per_row_with_line_and_column(tmp_path, file_path):
    # reference columns (school, class, user) are checked per distinct value: every row carrying a
    # bad value is rejected, with its own line, and the good rows keep theirs
    lines = VALID["attendance.csv"].splitlines()
    att = "\n".join([lines[0], lines[1], "a7,,,,s 1,u1,2024-03-04,AE,,,", lines[2],
                      "a8,,,,s 1,u2,2024-03-05,AE,,,", "a9,,,k#1,s1,u1,2024-03-06,AE,,,"] + lines[3:]) + "\n"
    with open_delivery(write_delivery(tmp_path, {"attendance.csv": att})) as delivery:
        res = delivery.load("attendance", tmp_path / "wh", D)
    assert res.rows == 3 and res.rejected_rows == 3
    got = sorted((f.rule, f.line, f.column) for f in res.findings if f.severity == "error")
    assert got == [("row.bad_guid", 3, "schoolSourcedId"), ("row.bad_guid", 5, "schoolSourcedId"),
                   ("row.bad_guid", 6, "classSourcedId")]
    assert q(f"SELECT sourcedId, _line, _rule FROM '{res.rejects_path}' ORDER BY _line") == [
        ("a7", 3, "row.bad_guid"), ("a8", 5, "row.bad_guid"), ("a9", 6, "row.bad_guid")]
    kept = q(f"SELECT sourcedId, _line FROM '{res.parquet_path}' ORDER BY _line")
    assert [line for _, line in kept] == [2, 4, 7]


def test_partition_replaced_atomically_and_kept_on_file_error(tmp_path):
    out = tmp_path / "wh"
    bad = VALID["attendance.csv"] + "a9,,,,s1,u1,nope,AE,,,\n"
    with open_delivery(write_delivery(tmp_path, {"attendance.csv": bad}, name="one")) as delivery:
        first = delivery.load("attendance", out, D)
    assert first.rejects_path is not None and Path(first.rejects_path).exists()
    with open_delivery(write_delivery(tmp_path, {}, name="two")) as delivery:
        second = delivery.load("attendance", out, D)
    assert second.rows == 3 and not Path(first.rejects_path).exists()   # stale rejects removed
    before = Path(second.parquet_path).read_bytes()
    broken = "sourcedId,status\nx,active\n"   # required columns missing: file-level error
    with open_delivery(write_delivery(tmp_path, {"attendance.csv": broken}, name="three")) as delivery:
        third = delivery.load("attendance", out, D)
    assert third.failed and "header.missing_required_column" in rules(third.findings)
    assert Path(second.parquet_path).read_bytes() == before
    leftovers = [p.name for p in (out / "raw" / "attendance").iterdir()]
    assert leftovers == [f"delivery_date={D}"]


def test_delivery_sha256_zip_and_folder(tmp_path):
    import hashlib
    z = write_delivery(tmp_path, {}, as_zip=True)
    with open_delivery(z) as delivery:
        assert delivery.sha256 == hashlib.sha256(z.read_bytes()).hexdigest()
        assert delivery.files["users"].sha256 == hashlib.sha256(VALID["users.csv"].encode()).hexdigest()
        tmp_dir = delivery.files["users"].path.parent
        assert tmp_dir.exists()
    assert not tmp_dir.exists()   # extracted files cleaned on exit
    f = write_delivery(tmp_path, {})
    with open_delivery(f) as delivery:
        expected = hashlib.sha256()
        for name in sorted(VALID):
            expected.update(f"{name}\0{hashlib.sha256(VALID[name].encode()).hexdigest()}\n".encode())
        assert delivery.sha256 == expected.hexdigest()


def test_references_bulk_errors_delta_warnings(tmp_path):
    att = VALID["attendance.csv"] + "a9,,,k9,s1,u9,2024-03-01,ZZ,,,\n"
    rep = validate_delivery(write_delivery(tmp_path, {"attendance.csv": att}, name="bulk"))
    dangling = {(f.column, f.line, f.severity) for f in rep.findings if f.rule == "ref.dangling"}
    assert dangling == {("classSourcedId", 5, "error"), ("userSourcedId", 5, "error"),
                        ("absenceCode", 5, "error")}
    users_delta = VALID["users.csv"].replace("u1,,,", "u1,active,2024-03-01T00:00:00Z,").replace("u2,,,",
                                                                                                 "u2,active,2024-03-01,")
    rep = validate_delivery(write_delivery(tmp_path, {"attendance.csv": att, "users.csv": users_delta},
                                           name="delta"))
    sev = {f.column: f.severity for f in rep.findings if f.rule == "ref.dangling"}
    assert sev["userSourcedId"] == "warning" and sev["classSourcedId"] == "error"


def test_absence_code_resolves_by_title_or_sourced_id(tmp_path):
    rep = validate_delivery(write_delivery(tmp_path, {}))
    assert not [f for f in rep.findings if f.rule == "ref.dangling"]


# ------------------------------------------------------------------ personal data never in findings

def test_no_personal_data_in_findings_report_or_json(tmp_path):
    users = VALID["users.csv"] + f"u3,,,maybe,s1,student,{PII_MARK}.x,,{PII_MARK}A,{PII_MARK}B,,,,,,,,\n"
    users += f"u4,,,true,s1,student,{PII_MARK}.y,,,{PII_MARK}C,,,,,,,,\n"   # blank required givenName
    demo = VALID["demographics.csv"] + f"u2,,,{PII_MARK}-01-01,male,,,,,,,,,,,\n"
    att = (VALID["attendance.csv"] + f"a9,,,,s1,u1,bad-date,AE,,,{PII_MARK} secret\n"
           + f"a10,,,,s1,u1,2024-03-01,AE,,,{PII_MARK},extra\n")
    rep = validate_delivery(write_delivery(tmp_path,
                                   {"users.csv": users, "demographics.csv": demo, "attendance.csv": att}))
    assert {"row.bad_boolean", "row.required_missing", "row.bad_date", "row.malformed"} <= rules(rep.findings)
    blob = to_text(rep) + to_json(rep) + repr(rep.findings)
    assert PII_MARK not in blob
    assert PII_MARK.lower() not in blob.lower()


# ------------------------------------------------------------------ findings, report, CLI

def test_finding_shape_and_rule_table():
    f = Finding("error", "users.csv", 3, "role", "row.bad_enum", "x")
    assert f.to_dict() == {"severity": "error", "file": "users.csv", "line": 3, "column": "role",
                           "rule": "row.bad_enum", "message": "x"}
    with pytest.raises(ValueError):
        Finding("fatal", None, None, None, "x", "y")
    assert all(v[0] in ("error", "warning", "info") for v in RULES.values())


def _run_cli(args):
    import argparse

    from kinvolved_assets.cli import validate as command
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    command.register(sub)
    try:
        ns = p.parse_args(args)
    except SystemExit as exc:
        return int(exc.code)
    return ns.func(ns)


def test_cli_exit_codes_and_json(tmp_path, capsys):
    good = write_delivery(tmp_path, {}, name="good")
    assert _run_cli(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "attendance.csv" in out and "Result: OK" in out
    bad = write_delivery(tmp_path, {"orgs.csv": VALID["orgs.csv"] + "s2,,,X,nope,,d1\n"}, name="bad")
    assert _run_cli(["validate", str(bad), "--json", "--customer", "demo_district"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"files", "findings"}
    f = next(x for x in data["findings"] if x["rule"] == "row.bad_enum")
    assert set(f) == {"severity", "file", "line", "column", "rule", "message"} and f["line"] == 4
    assert _run_cli(["validate", str(tmp_path / "missing")]) == 2
    assert _run_cli(["validate", str(good), "--customer", "Bad Slug!"]) == 2
    assert _run_cli(["validate"]) == 2


def test_text_report_groups_by_rule(tmp_path):
    orgs = VALID["orgs.csv"] + "".join(f"x{i},,,X,nope,,d1\n" for i in range(12))
    rep = validate_delivery(write_delivery(tmp_path, {"orgs.csv": orgs}))
    text = to_text(rep, first_n=3)
    assert "row.bad_enum x12" in text and "... and 9 more" in text


def test_findings_capped_per_rule_with_summary(tmp_path):
    orgs = VALID["orgs.csv"] + "".join(f"x{i},,,X,nope,,d1\n" for i in range(80))
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": orgs}),
                       DeliveryLimits(max_findings_per_rule=10)) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert res.rejected_rows == 80
    assert len([f for f in res.findings if f.rule == "row.bad_enum"]) == 10
    trunc = [f for f in res.findings if f.rule == "rows.truncated"]
    assert len(trunc) == 1 and "70 more" in trunc[0].message


def test_no_dagster_import():
    import subprocess
    code = ("import sys; import kinvolved_assets.oneroster.delivery_files, kinvolved_assets.cli.validate; "
            "sys.exit(1 if any(m.startswith('dagster') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ}).returncode == 0
    assert zipfile  # keep import used


def test_blank_lines_keep_physical_line_numbers(tmp_path, file_path):
    orgs = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\r\n"
            "d1,,,D,district,,\r\n"
            "\r\ns1,,,S,school,,d1\r\n"
            "s2,,,S2,bogus,,d1\r\n")
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": orgs})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    assert dict(q(f"SELECT sourcedId, _line FROM '{res.parquet_path}'")) == {"d1": 2, "s1": 4}
    assert [(f.rule, f.line) for f in errors(res.findings)] == [("row.bad_enum", 5)]


def test_published_doc_lists_every_rule_file_and_column():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "oneroster-plus.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in doc, rule
    for ent in spec.ENTITIES:
        assert ent.file_name in doc
        for col in ent.columns:
            assert f"`{col.name}`" in doc, (ent.name, col.name)
