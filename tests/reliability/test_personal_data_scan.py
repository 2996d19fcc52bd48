"""Planted personal data never leaves the data at rest.

A generated district gets two hand-made deliveries: a delta whose rows slid into the wrong columns (a
username in ``role``, a name in ``orgSourcedIds``, an email in ``enabledUser``, a phone in ``grades``,
a birth date in ``sex``, a name in ``attendance.date``; those rows are rejected) next to valid rows
carrying planted names and a comment in their own columns, and a delivery whose users.csv has no header
line (its first row is a planted student). ``kinvolved validate`` (text and JSON) and ``kinvolved
ingest`` (Dagster runs on a persistent instance, dbt marts) run as real processes. Then every byte
the platform wrote outside ``raw/``, ``rejects/``, ``quarantine/`` and ``archive/`` (CLI output,
reports, Dagster storage and compute logs, run logs, dbt target, dbt log, marts) is searched: 0 hits,
while the planted values are found where they may be (archive, rejects, raw).
"""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.districts import add_customer

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
KINVOLVED = str(Path(sys.executable).parent / "kinvolved")
GIVEN, FAMILY, SHIFTED_NAME = "Quillonbury", "Zephyrinesca", "Marisabel Ostrowicz"
USERNAME, EMAIL, PHONE, BORN = "qzplant1000077", "quill.zeph@planted.example", "+15550199773", "2011-07-13"
COMMENT_NAME, DATE_NAME, HEADERLESS_NAME = "Thaddeusmore", "Oriannavale", "Belisandrow"
QUARANTINED_NAME = "Evanthiaque"   # in the comment of an attendance row quarantined for its unknown student
PLANTED = [GIVEN, FAMILY, SHIFTED_NAME, "Marisabel", "Ostrowicz", USERNAME, EMAIL, PHONE, BORN,
           COMMENT_NAME, DATE_NAME, HEADERLESS_NAME, QUARANTINED_NAME]
AT_REST = ("raw", "rejects", "quarantine")


def _csv(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _hostile_deliveries(landing: Path, first_zip: Path, second_zip: Path, day_a: str,
                        day_b: str) -> list[Path]:
    with zipfile.ZipFile(first_zip) as z:
        users_header = z.read("users.csv").decode().splitlines()[0].split(",")
        demo_header = z.read("demographics.csv").decode().splitlines()[0].split(",")
        student = next(r for r in csv.DictReader(io.StringIO(z.read("users.csv").decode())) if r["role"]
                       == "student")
    with zipfile.ZipFile(second_zip) as z:
        att_text = z.read("attendance.csv").decode()
    att_header = att_text.splitlines()[0].split(",")
    att = next(csv.DictReader(io.StringIO(att_text)))
    stamp = f"{day_a}T20:00:00Z"
    base = dict(status="active", dateLastModified=stamp, enabledUser="true",
                orgSourcedIds=student["orgSourcedIds"],
                role="student", username="plain.user", givenName="G", familyName="F")
    good = [dict(base, sourcedId=f"usr-plant-ok-{i}", username=f"ok{i}", givenName=GIVEN, familyName=FAMILY,
                 email=f"ok{i}@x.example") for i in range(5)]
    shifted = [dict(base, sourcedId="usr-plant-1", role=USERNAME),
               dict(base, sourcedId="usr-plant-2", orgSourcedIds=SHIFTED_NAME),
               dict(base, sourcedId="usr-plant-3", enabledUser=EMAIL),
               dict(base, sourcedId="usr-plant-4", grades=PHONE)]
    att_base = {k: att[k] for k in att_header} | {"dateLastModified": stamp, "status": "active"}
    a = landing / f"pdscan_{day_a.replace('-', '')}"
    a.mkdir()
    (a / "manifest.csv").write_text("propertyName,value\noneroster.version,1.1\nfile.users,delta\n"
                                    "file.demographics,delta\nfile.attendance,delta\n")
    (a / "users.csv").write_text(_csv(users_header, good + shifted))
    (a / "demographics.csv").write_text(_csv(demo_header, [
        {"sourcedId": "usr-plant-ok-0", "status": "active", "dateLastModified": stamp, "birthDate": BORN,
         "sex": "female"},
        {"sourcedId": "usr-plant-ok-1", "status": "active", "dateLastModified": stamp, "sex": BORN}]))
    (a / "attendance.csv").write_text(_csv(att_header, [
        att_base | {"sourcedId": "att-plant-1", "comment": f"{COMMENT_NAME} called in"},
        att_base | {"sourcedId": "att-plant-2", "comment": ""},
        att_base | {"sourcedId": "att-plant-3", "date": DATE_NAME},
        att_base | {"sourcedId": "att-plant-4", "userSourcedId": "usr-nobody-404",
                    "comment": f"{QUARANTINED_NAME} note"},
        att_base | {"sourcedId": "att-plant-5", "comment": ""}]))
    b = landing / f"pdscan_{day_b.replace('-', '')}"
    b.mkdir()
    row = dict(base, sourcedId="usr-plant-9", username=USERNAME + "b", givenName=HEADERLESS_NAME,
               familyName=FAMILY,
               email=EMAIL, phone=PHONE)
    (b / "users.csv").write_text(_csv(users_header, [row]).split("\n", 1)[1])   # no header line
    return [a, b]


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([KINVOLVED, *args], env=env, capture_output=True, text=True, timeout=600, cwd=REPO,
                          umask=0o022)


def _texts_outside_rest(home: Path) -> dict[str, bytes]:
    out = {}
    for path in home.rglob("*"):
        rel = path.relative_to(home).parts
        if not path.is_file() or rel[0] in ("landing", "archive", "truth"):
            continue
        if rel[0] == "warehouse" and len(rel) > 2 and rel[2] in AT_REST:
            continue
        data = path.read_bytes()
        if path.suffix in (".duckdb", ".db", ".parquet"):
            data += _database_text(path).encode()
        out[str(path.relative_to(home))] = data
    return out


def _database_text(path: Path) -> str:
    """Every text value of a DuckDB, SQLite or Parquet file (compression may hide it from a byte scan)."""
    con = duckdb.connect()
    try:
        if path.suffix == ".parquet":
            return "\n".join(str(r) for r in con.execute("select * from read_parquet(?)",
                                                         [str(path)]).fetchall())
        kind = "sqlite" if path.suffix == ".db" else "duckdb"
        if kind == "sqlite":
            import sqlite3
            lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = [r[0] for r in lite.execute("select name from sqlite_master where type = 'table'")]
                return "\n".join(str(r) for t in tables for r in lite.execute(f'select * from "{t}"'))
            finally:
                lite.close()
        con.execute(f"ATTACH '{path}' AS m (READ_ONLY)")
        parts = []
        for schema, table in con.execute("select schema_name, table_name from duckdb_tables() where "
                                         "database_name = 'm'").fetchall():
            parts.extend(str(r) for r in con.execute(f'select * from m."{schema}"."{table}"').fetchall())
        return "\n".join(parts)
    except (duckdb.Error, OSError) as exc:   # a file being replaced: it is scanned as bytes anyway
        return f"unreadable {type(exc).__name__}"
    finally:
        con.close()


def _recent_files(root: Path, since: float) -> dict[str, bytes]:
    """dbt's own target/ and logs/ of the project: what this run wrote there."""
    return {str(p.relative_to(REPO)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.stat().st_mtime >= since} if root.is_dir() else {}


def _not_private(root: Path) -> list[tuple[str, str]]:
    wrong = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name, want in [(dirpath, 0o700)] + [(os.path.join(dirpath, f), 0o600) for f in filenames]:
            mode = stat.S_IMODE(os.lstat(name).st_mode)
            if mode != want:
                wrong.append((name, oct(mode)))
    return wrong


def test_planted_personal_data_stays_at_rest(tmp_path):
    home, config_dir = tmp_path / "home", tmp_path / "configs"
    home.mkdir()
    config_dir.mkdir()
    gen = add_customer(home, config_dir, "pdscan", days=1)
    (first,) = (d.path for d in gen.deliveries)
    second = first
    last = max(d.delivery_date for d in gen.deliveries)
    day_a, day_b = (last.fromordinal(last.toordinal() + n).isoformat() for n in (1, 2))
    landing = home / "landing" / "pdscan"
    deliveries = _hostile_deliveries(landing, first, second, day_a, day_b)
    env = {**os.environ, "KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": str(config_dir),
           "KINVOLVED_LOG_LEVEL": "DEBUG",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dbt_log = REPO / "dbt_project" / "logs" / "dbt.log"
    dbt_log_start = dbt_log.stat().st_size if dbt_log.exists() else 0
    started = time.time() - 1

    outputs = []
    for delivery in deliveries:
        for extra in ([], ["--json"]):
            done = _run(["validate", str(delivery), "--customer", "pdscan", *extra], env)
            assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
            outputs.append(done.stdout + done.stderr)
    assert "row.bad_enum" in outputs[0] and "header.missing_required_column" in outputs[2]
    done = _run(["ingest", "pdscan"], env)
    outputs.append(done.stdout + done.stderr)
    lines = done.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines if ln[:4].isdigit()] == [
        [str(d), "ok"] for d in sorted(x.delivery_date for x in gen.deliveries)] + [[day_a, "ok"],
                                                                               [day_b,
                                                                                "BLOCKED"]], done.stdout
    assert any(ln.startswith("marts   ok") for ln in lines), done.stdout
    assert f"(pdscan_{day_a.replace('-', '')}: date from the name)" in done.stdout
    # the customer's whole tree, the published marts and reports included, is private
    assert (_not_private(home / "warehouse" / "pdscan") == [] and _not_private(home / "archive" / "pdscan")
            == [])
    assert (home / "warehouse" / "pdscan" / "marts.duckdb").is_file()

    texts = {f"cli output #{i}": o.encode() for i, o in enumerate(outputs)}
    texts.update(_texts_outside_rest(home))
    if dbt_log.exists():
        with open(dbt_log, "rb") as fh:
            fh.seek(dbt_log_start)
            texts["dbt_project/logs/dbt.log (this run)"] = fh.read()
    texts.update(_recent_files(REPO / "dbt_project" / "target", started))
    assert any("dagster_home" in k for k in texts) and any("/reports/" in k for k in texts)
    assert any(k.endswith("marts.duckdb") for k in texts) and any(k.startswith("logs/") for k in texts)
    hits = [(src, value) for src, data in texts.items() for value in PLANTED if value.encode() in data]
    assert hits == [], hits

    # ... and the planted values are where they may be: the archive, the rejects, raw
    archived = b"".join(p.read_bytes() for p in (home / "archive").rglob("*.csv"))
    assert all(v.encode() in archived for v in PLANTED if v not in ("Marisabel", "Ostrowicz"))
    wh = home / "warehouse" / "pdscan"
    con = duckdb.connect()
    rejects = str(con.execute(f"select * from read_parquet('{wh}/rejects/**/*.parquet', union_by_name = "
                              "true)").fetchall())
    for value in (USERNAME, SHIFTED_NAME, EMAIL, PHONE, BORN, DATE_NAME, QUARANTINED_NAME):
        assert value in rejects, value
    raw = str(con.execute("select givenName from "
                          f"read_parquet('{wh}/raw/users/delivery_date={day_a}/**/*.parquet')").fetchall())
    comments = str(con.execute("select comment from "
                               f"read_parquet('{wh}/raw/attendance/delivery_date={day_a}/**/*.parquet')").fetchall())
    assert GIVEN in raw and COMMENT_NAME in comments
