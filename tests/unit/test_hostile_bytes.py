"""Hostile bytes (issue items 7-12): each gives a clear finding with file and line, or is accepted
correctly; never a traceback, a hang or a silent loss. Every hostile file is built here."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import duckdb

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.defs.sensors import evaluate_landing
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.delivery.landing import find_deliveries, incomplete_reason
from kinvolved_assets.oneroster.decode import HEAD_BYTES, MAX_LINE_BYTES
from kinvolved_assets.oneroster.delivery_files import open_delivery
from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text
from tests.unit.corpus.reader_deliveries import VALID, write_delivery

D = "2025-09-02"
CUSTOMER = CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=2024)


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def errors(findings):
    return [f for f in findings if f.severity == "error"]


USER_COLUMNS = VALID["users.csv"].splitlines()[0].split(",")


def user_row(sid: str, role: str = "student", given: str = "G", family: str = "F") -> str:
    values = dict(sourcedId=sid, enabledUser="true", orgSourcedIds="s1", role=role, username=f"{sid}.x",
                  givenName=given, familyName=family)
    return ",".join(values.get(c, "") for c in USER_COLUMNS) + "\n"


def _landing(tmp_path: Path) -> tuple[CustomerPaths, Path]:
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    return paths, paths.landing


# ------------------------------------------------------------------ 7: a file name that is not UTF-8

def test_folder_delivery_with_a_non_utf8_file_name_still_ingests_with_a_finding(tmp_path):
    paths, landing = _landing(tmp_path)
    folder = write_delivery(landing, {}, name=f"export_{D}")
    bad = os.path.join(os.fsencode(folder), b"notes_caf\xe9.csv")   # Latin-1 name on a UTF-8 system
    with open(bad, "wb") as fh:
        fh.write(b"a,b\n1,2\n")
    write_delivery(landing, {}, as_zip=True, name="export_2025-09-03")
    requests, logs, _ = evaluate_landing(CUSTOMER, landing, {}, 0.0)
    assert sorted(r["delivery"] for r in requests) == ["export_2025-09-02", "export_2025-09-03.zip"], logs
    json.dumps(requests, default=str)   # the run request (run config, tags) must serialize

    rep = validate_delivery(folder)
    assert not errors(rep.findings) and not rep.fatal, [f.to_dict() for f in errors(rep.findings)]
    (f,) = by_rule(rep.findings, "delivery.bad_file_name")
    assert f.severity == "warning" and f.file == "notes_caf\\xe9.csv" and "not valid UTF-8" in f.message
    assert {s.entity for s in rep.files} >= {"users", "attendance"}
    to_text(rep).encode("utf-8")
    to_json(rep).encode("utf-8")

    for date in (D, "2025-09-03"):
        out = ingest_delivery(CUSTOMER, paths, date, run_id=f"r{date[-1]}")
        assert out.promoted and out.entities["attendance"].result.rows == 3
    archived = paths.archive_partition(D) / f"export_{D}"
    assert (os.fsencode(archived) + b"/notes_caf\xe9.csv") in [os.fsencode(p) for p in archived.iterdir()]


def test_landing_entry_with_a_non_utf8_name_is_reported_and_skipped(tmp_path):
    _, landing = _landing(tmp_path)
    write_delivery(landing, {}, as_zip=True, name="export_2025-09-03")
    bad = write_delivery(landing, {}, as_zip=True, name="tmp")
    os.rename(bad, os.path.join(os.fsencode(landing), b"export_\xff_2025-09-02.zip"))
    requests, logs, _ = evaluate_landing(CUSTOMER, landing, {}, 0.0)
    assert [r["delivery"] for r in requests] == ["export_2025-09-03.zip"]
    assert logs == ["skipped export_\\xff_2025-09-02.zip: the name is not valid UTF-8; rename it"]


# ------------------------------------------------------------------ 8: ZIP member flagged UTF-8, not UTF-8

def _zip_with_bad_utf8_name(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in VALID.items():
            zf.writestr(name, text)
        zf.writestr("notes_\u00e9\u00e9.csv", "a\n1\n")    # non-ASCII: flagged UTF-8 (bit 11)
    data = path.read_bytes()
    good = "notes_\u00e9\u00e9.csv".encode()
    bad = b"notes_\xe9\xe9\xe9\xe9.csv"                    # same length, not valid UTF-8
    assert len(good) == len(bad) and data.count(good) == 2
    path.write_bytes(data.replace(good, bad))
    return path


def test_zip_member_flagged_utf8_but_not_is_refused_not_partial(tmp_path):
    _, landing = _landing(tmp_path)
    z = _zip_with_bad_utf8_name(landing / f"export_{D}.zip")
    (delivery,) = find_deliveries(landing, CUSTOMER.tz)
    assert incomplete_reason(delivery) is None
    requests, logs, _ = evaluate_landing(CUSTOMER, landing, {}, 0.0)
    assert [r["delivery"] for r in requests] == [z.name] and not any("waiting" in line for line in logs)
    rep = validate_delivery(z)
    assert rep.fatal and [f.rule for f in errors(rep.findings)] == ["delivery.bad_member_name"]
    assert "Result: FAILED" in to_text(rep)


# ------------------------------------------------------------------ 9: the size limits

def test_one_huge_record_without_newline_is_refused_early(tmp_path):
    """A header and one huge record with no line break (256 MiB here; the issue saw 1 GB vanish): the
    file fails at once, naming the limit, after reading 10 MB of it."""
    folder = write_delivery(tmp_path, {"users.csv": None})
    users = folder / "users.csv"
    with open(users, "wb") as fh:
        fh.write(VALID["users.csv"].splitlines()[0].encode() + b"\n" + b"u1," + b"x" * 100_000)
        fh.truncate(1 << 28)               # sparse: 256 MiB on paper (25x the limit), written in no time
        fh.seek(0, os.SEEK_END)
        fh.write(b"x")
    with open_delivery(folder) as delivery:          # hashes the whole file once (as for any delivery)
        started = time.perf_counter()
        res = delivery.load("users", tmp_path / "wh", D)
        took = time.perf_counter() - started
    (f,) = by_rule(res.findings, "file.record_too_long")
    assert res.failed and f.line == 2 and f"{MAX_LINE_BYTES:,} bytes" in f.message and res.rows == 0
    assert took < 5, took                   # stops at the limit instead of reading the whole record
    assert not list((tmp_path / "wh").rglob("*.parquet"))


def test_record_just_over_the_line_limit_among_good_rows(tmp_path):
    lines = VALID["orgs.csv"].splitlines()
    data = ("\n".join(lines)
            + "\n").encode() + b"s9,,,X" + b"y" * MAX_LINE_BYTES + b",school,,d1\n" + b"s8,,,Y,school,,d1\n"
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": data})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    (f,) = by_rule(res.findings, "file.record_too_long")
    assert res.failed and f.line == 4


def test_header_over_64_kib_is_refused_naming_the_limit(tmp_path):
    header = ",".join(f"metadata.col{i:06d}" for i in range(HEAD_BYTES // 10)) + "\n"
    started = time.perf_counter()
    with open_delivery(write_delivery(tmp_path, {"orgs.csv": header + "d1\n"})) as delivery:
        res = delivery.load("orgs", tmp_path / "wh", D)
    (f,) = by_rule(res.findings, "file.header_too_long")
    assert res.failed and f.line == 1 and f"{HEAD_BYTES:,} bytes" in f.message
    assert time.perf_counter() - started < 5


# ------------------------------------------------------------------ 10: one stray cp1252 byte in UTF-8

def test_utf8_with_one_stray_cp1252_byte_keeps_utf8_and_names_the_line(tmp_path):
    head = VALID["users.csv"].splitlines()[0] + "\n"
    rows = head + "".join(user_row(f"n{i}", given=f"Sof\u00eda{i}", family="Pe\u00f1a") for i in range(6))
    data = rows.encode("utf-8") + user_row("n9", given="Jos\u00e9", family="Ruiz").encode("cp1252")
    with open_delivery(write_delivery(tmp_path, {"users.csv": data})) as delivery:
        res = delivery.load("users", tmp_path / "wh", D)
    assert not errors(res.findings) and res.rows == 7, [x.to_dict() for x in res.findings]
    (f,) = by_rule(res.findings, "file.encoding_repaired")
    assert f.line == 8 and "line(s) (8)" in f.message and "Jos" not in f.message
    assert not by_rule(res.findings, "file.encoding_fallback")
    names = dict(duckdb.sql(f"SELECT sourcedId, givenName FROM '{res.parquet_path}'").fetchall())
    assert names["n0"] == "Sof\u00eda0" and names["n9"] == "Jos\u00e9"


# ------------------------------------------------------------------ 11: every row rejected

def test_users_file_with_every_row_rejected_blocks_the_delivery(tmp_path):
    paths, landing = _landing(tmp_path)
    head = VALID["users.csv"].splitlines()[0]
    users = head + "\n" + "".join(user_row(f"u{i}", role="pupil") for i in range(4))
    write_delivery(landing, {"users.csv": users}, name=f"export_{D}")
    rep = validate_delivery(landing / f"export_{D}")
    (f,) = by_rule(rep.findings, "file.most_rows_rejected")
    assert f.severity == "error" and f.file == "users.csv" and "4 of the file's 4 rows" in f.message
    assert not rep.ok
    out = ingest_delivery(CUSTOMER, paths, D, run_id="r1")
    assert not out.promoted and out.blocking_summary().startswith("users: contract")
    assert not paths.raw_partition("users", D).exists()


def test_a_few_rejected_rows_still_load(tmp_path):
    head = VALID["users.csv"].splitlines()[0]
    users = head + "\n" + "".join(user_row(f"u{i}") for i in range(3)) + user_row("u9", role="pupil")
    rep = validate_delivery(write_delivery(tmp_path, {"users.csv": users}))
    assert not by_rule(rep.findings, "file.most_rows_rejected")


# ------------------------------------------------------------------ 12: control characters in member names

def test_control_characters_in_member_names_are_escaped_in_every_output(tmp_path, capsys):
    from test_reader import _run_cli

    evil = "notes\x1b[2K\rResult: OK - 0 errors\n\x1b[0m.csv"
    z = tmp_path / f"export_{D}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, text in VALID.items():
            zf.writestr(name, text)
        zf.writestr(evil, "a\n1\n")
        zf.writestr("users\x1b[31m.csv", VALID["users.csv"])   # also matches users: ambiguous
    for args in (["validate", str(z)], ["validate", str(z), "--json"]):
        _run_cli(args)
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\r" not in out
        assert "notes\\x1b[2K\\x0dResult: OK - 0 errors\\x0a\\x1b[0m.csv" in out.replace("\\\\", "\\")
        if "--json" not in args:
            assert [line for line in out.splitlines() if line.startswith("Result:")] == [out.splitlines()[-1]]
            assert out.splitlines()[-1].startswith("Result: FAILED")
    rep = validate_delivery(z)
    for f in rep.findings:
        for value in (f.file, f.message, f.column):
            assert value is None or value.isprintable(), f
    renamed = z.rename(tmp_path / "delivery\x1b[2J\nResult: OK.zip")
    _run_cli(["validate", str(renamed)])
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Delivery delivery\\x1b[2J\\x0aResult: OK.zip" and "\x1b" not in out
