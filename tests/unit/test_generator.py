"""The synthetic district generator: determinism, referential integrity, truth, quirks, bulk/delta."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import duckdb
import pytest
import yaml

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.generator.calendar import build_calendar
from kinvolved_assets.generator.config import suggested_config
from kinvolved_assets.generator.generate import generate
from kinvolved_assets.oneroster import spec

REPO = Path(__file__).resolve().parents[2]
GUID = __import__("re").compile(spec.GUID_PATTERN)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_delivery(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rows(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, r, strict=True)) for r in reader]


@pytest.fixture(scope="module")
def small_loose(tmp_path_factory):
    """small district, loose deliveries across a month boundary, with truth."""
    base = tmp_path_factory.mktemp("small")
    result = generate("small_d", "small", 11, dt.date(2025, 10, 27), 10, base / "out", fmt="loose",
                      truth=base / "truth")
    return result, base


@pytest.fixture(scope="module")
def small_late(tmp_path_factory):
    """small district late in the year (long history, few deliveries) for the chronic-absence figures."""
    base = tmp_path_factory.mktemp("late")
    result = generate("late_d", "small", 5, dt.date(2026, 5, 25), 8, base / "out", fmt="loose",
                      truth=base / "truth")
    return result, base


# ---- determinism ------------------------------------------------------------------------------
def test_same_seed_same_bytes_and_different_seed_differs(tmp_path):
    a = generate("demo", "tiny", 7, dt.date(2025, 9, 26), 6, tmp_path / "a")
    b = generate("demo", "tiny", 7, dt.date(2025, 9, 26), 6, tmp_path / "b")
    c = generate("demo", "tiny", 8, dt.date(2025, 9, 26), 6, tmp_path / "c")
    names = [[d.path.name for d in g.deliveries] for g in (a, b, c)]
    assert names[0] == names[1] == names[2]
    assert [d.path.name for d in a.deliveries][0] == "demo_20250926.zip"
    assert [_sha(d.path) for d in a.deliveries] == [_sha(d.path) for d in b.deliveries]
    assert [_sha(d.path) for d in a.deliveries] != [_sha(d.path) for d in c.deliveries]
    assert a.elapsed_seconds < 5


# ---- structure --------------------------------------------------------------------------------
def test_bulk_then_deltas_with_monthly_bulk(small_loose):
    result, _ = small_loose
    dates = [d.delivery_date for d in result.deliveries]
    assert dates == [dt.date(2025, 10, 27) + dt.timedelta(days=i) for i in range(10)
                     if (dt.date(2025, 10, 27) + dt.timedelta(days=i)).weekday() < 5]
    modes = [d.mode for d in result.deliveries]
    assert modes[0] == "bulk"
    # the first delivery of November is a monthly bulk pull
    nov = dates.index(dt.date(2025, 11, 3))
    assert modes[nov] == "bulk" and set(modes) == {"bulk", "delta"}
    assert all(m == "delta" for i, m in enumerate(modes) if i not in (0, nov))
    for delivery in result.deliveries:
        assert delivery.path.is_dir() and delivery.path.name == f"small_d_{delivery.delivery_date:%Y%m%d}"
        files = _read_delivery(delivery.path)
        _, manifest = _rows(files["manifest.csv"])
        props = {r["propertyName"]: r["value"] for r in manifest}
        assert props["manifest.version"] == "1.0" and props["oneroster.version"] == "1.1"
        for e in spec.ENTITIES:
            expected = delivery.mode if e.file_name in files else "absent"
            assert props[f"file.{e.file_stem}"] == expected
        if delivery.mode == "bulk":
            assert {e.file_name for e in spec.ENTITIES} <= set(files)
            # bulk rows leave status/dateLastModified blank, so a reader never mistakes them for a delta
            for name, data in files.items():
                if name != "manifest.csv":
                    _, rows = _rows(data)
                    assert all(r["status"] == "" and r["dateLastModified"] == "" for r in rows), name
        else:
            assert "attendance.csv" in files and "orgs.csv" not in files
            for name, data in files.items():
                if name == "manifest.csv":
                    continue
                _, rows = _rows(data)
                assert all(r["status"] in spec.STATUS_VALUES and r["dateLastModified"] for r in rows), name
                assert all(r["dateLastModified"].startswith(delivery.delivery_date.isoformat()) for r
                           in rows), name


def test_deltas_carry_roster_changes_and_corrections(small_loose):
    result, _ = small_loose
    statuses, corrected, ended, begun = set(), 0, 0, 0
    for delivery in result.deliveries:
        if delivery.mode != "delta":
            continue
        files = _read_delivery(delivery.path)
        _, att = _rows(files["attendance.csv"])
        statuses |= {r["status"] for r in att}
        corrected += sum(1 for r in att if r["date"] < delivery.delivery_date.isoformat())
        if "enrollments.csv" in files:
            _, enr = _rows(files["enrollments.csv"])
            ended += sum(1 for r in enr if r["endDate"])
            begun += sum(1 for r in enr if r["beginDate"] > delivery.delivery_date.isoformat())
    assert "tobedeleted" in statuses and corrected > 0
    assert ended > 0 and begun > 0


def test_headers_and_referential_integrity(small_loose):
    result, _ = small_loose
    seen: dict[str, dict[str, dict]] = {e.file_stem: {} for e in spec.ENTITIES}
    for delivery in result.deliveries:
        for name, data in _read_delivery(delivery.path).items():
            if name == "manifest.csv":
                assert data.decode().splitlines()[0] == "propertyName,value"
                continue
            stem = name[:-4]
            ent = next(e for e in spec.ENTITIES if e.file_stem == stem)
            header, rows = _rows(data)
            assert tuple(header) == ent.column_names, name
            assert data[:3] != b"\xef\xbb\xbf" and b"\r\n" not in data
            ids = [r["sourcedId"] for r in rows]
            assert len(ids) == len(set(ids)), f"duplicate sourcedIds in {delivery.path.name}/{name}"
            for r in rows:
                assert GUID.match(r["sourcedId"]), r["sourcedId"]
                for c in ent.required_columns:
                    assert r[c] != "", (name, c)
                seen[stem][r["sourcedId"]] = r
    orgs, sessions, courses, classes = (seen["orgs"], seen["academicSessions"], seen["courses"],
                                        seen["classes"])
    users, codes = seen["users"], seen["absenceCodes"]
    assert sum(1 for o in orgs.values() if o["type"] == "district") == 1
    assert sum(1 for o in orgs.values() if o["type"] == "school") == 5
    assert sum(1 for s in sessions.values() if s["type"] == "schoolYear") == 1
    for c in courses.values():
        assert c["orgSourcedId"] in orgs and c["schoolYearSourcedId"] in sessions
    for c in classes.values():
        assert c["courseSourcedId"] in courses and c["schoolSourcedId"] in orgs
        assert all(t in sessions for t in c["termSourcedIds"].split(","))
    for e in seen["enrollments"].values():
        assert e["classSourcedId"] in classes and e["userSourcedId"] in users and e["schoolSourcedId"] in orgs
        assert classes[e["classSourcedId"]]["schoolSourcedId"] == e["schoolSourcedId"]
    for u in users.values():
        assert all(o in orgs for o in u["orgSourcedIds"].split(","))
        assert all(a in users for a in u["agentSourcedIds"].split(",") if a)
    for d in seen["demographics"].values():
        assert d["sourcedId"] in users
    by_title = {c["title"] for c in codes.values()}
    assert any(c["schoolSourcedId"] for c in codes.values())
    daily = set()
    for a in seen["attendance"].values():
        assert a["userSourcedId"] in users and a["schoolSourcedId"] in orgs
        assert a["absenceCode"] in by_title or a["absenceCode"] in codes
        assert not a["classSourcedId"] or a["classSourcedId"] in classes
        if not a["classSourcedId"]:
            key = (a["userSourcedId"], a["schoolSourcedId"], a["date"])
            assert key not in daily
            daily.add(key)
    assert any(a["classSourcedId"] and a["period"] for a in seen["attendance"].values())
    assert any(a["absenceCode"] in codes for a in seen["attendance"].values())


# ---- truth --------------------------------------------------------------------------------------
def test_truth_is_consistent(small_loose, small_late):
    for result, base in (small_loose, small_late):
        t = duckdb.connect().execute(f"SELECT * FROM '{base / 'truth' / 'student_attendance.parquet'}'").df()
        assert list(t.columns) == ["as_of_date", "student_sourced_id", "school_sourced_id", "days_enrolled",
                                   "days_absent", "attendance_rate", "is_chronically_absent"]
        assert set(t["as_of_date"].astype(str).str[:10]) == {d.delivery_date.isoformat() for d
                                                             in result.deliveries}
        assert (t["days_enrolled"] > 0).all() and (t["days_absent"] >= 0).all()
        assert (t["days_absent"] <= t["days_enrolled"]).all()
        assert t["attendance_rate"].between(0, 1).all()
        rate = (t["days_enrolled"] - t["days_absent"]) / t["days_enrolled"]
        assert (abs(rate - t["attendance_rate"]) < 1e-12).all()
        chronic = (t["days_absent"] / t["days_enrolled"] >= 0.10) & (t["days_enrolled"] >= 10)
        assert (chronic == t["is_chronically_absent"]).all()
    _, base = small_late
    truth = base / "truth" / "student_attendance.parquet"
    last = duckdb.connect().execute(f"""SELECT avg(is_chronically_absent::INT) FROM '{truth}'
                          WHERE as_of_date = (SELECT max(as_of_date) FROM '{truth}')""").fetchone()[0]
    assert 0.05 <= last <= 0.30
    config = yaml.safe_load((base / "truth" / "customer_config.yaml").read_text())
    assert config == suggested_config("late_d", "small", 5, 2026)


@pytest.mark.parametrize("fixture", ["small_loose", "small_late"])
def test_truth_matches_the_delivered_csvs(fixture, request):
    """Rebuild the last as-of figures from the deliveries alone (latest version per sourcedId) and compare."""
    result, base = request.getfixturevalue(fixture)
    con = duckdb.connect()
    for stem in ("attendance", "enrollments", "absenceCodes", "academicSessions"):
        parts = []
        for i, delivery in enumerate(result.deliveries):
            p = delivery.path / f"{stem}.csv"
            if p.exists():
                parts.append(f"SELECT *, {i} AS _i, '{delivery.mode}' AS _m FROM read_csv('{p}', "
                             "all_varchar=true, header=true)")
        con.execute(f"CREATE TABLE {stem} AS " + " UNION ALL BY NAME ".join(parts))
    last_bulk = max(i for i, d in enumerate(result.deliveries) if d.mode == "bulk")
    cal = build_calendar(2026)
    hol = ",".join(f"DATE '{h}'" for h in cal.holidays)
    as_of = result.deliveries[-1].delivery_date
    got = con.execute(f"""
        WITH cur_att AS (
            SELECT * FROM attendance WHERE _i >= {last_bulk}
            QUALIFY row_number() OVER (PARTITION BY sourcedId ORDER BY _i DESC) = 1),
        cur_enr AS (
            SELECT * FROM enrollments WHERE _i >= {last_bulk}
            QUALIFY row_number() OVER (PARTITION BY sourcedId ORDER BY _i DESC) = 1),
        codes AS (SELECT * FROM absenceCodes WHERE _i = {last_bulk}),
        sy AS (SELECT startDate::DATE s, endDate::DATE e FROM academicSessions WHERE _i = {last_bulk} AND
            type = 'schoolYear'),
        days AS (SELECT d::DATE d FROM sy, range(sy.s, sy.e, INTERVAL 1 DAY) r(d)
                 WHERE isodow(d) < 6 AND d::DATE NOT IN ({hol}) AND d <= DATE '{as_of}'),
        enrolled AS (
            SELECT DISTINCT e.userSourcedId stu, e.schoolSourcedId sch, days.d
            FROM cur_enr e JOIN days ON days.d >= e.beginDate::DATE AND (e.endDate IS NULL OR days.d <
                e.endDate::DATE)
            WHERE e.role = 'student' AND coalesce(e.status, 'active') = 'active'),
        ev AS (
            SELECT a.userSourcedId stu, a.schoolSourcedId sch, a.date::DATE d,
                   coalesce(sc.absent, dc.absent, bi.absent) absent,
                   coalesce(sc.dayFraction, dc.dayFraction, bi.dayFraction) frac
            FROM cur_att a
            LEFT JOIN codes bi ON bi.sourcedId = a.absenceCode
            LEFT JOIN codes sc ON sc.title = a.absenceCode AND sc.schoolSourcedId = a.schoolSourcedId
            LEFT JOIN codes dc ON dc.title = a.absenceCode AND dc.schoolSourcedId IS NULL
            WHERE coalesce(a.status, 'active') = 'active' AND a.classSourcedId IS NULL)
        SELECT en.stu, en.sch, count(*) AS days_enrolled,
               coalesce(sum(CASE WHEN ev.absent = 'true' THEN coalesce(ev.frac::DOUBLE, 1) ELSE 0 END), 0) AS
                   days_absent
        FROM enrolled en LEFT JOIN ev USING (stu, sch, d)
        GROUP BY ALL ORDER BY 1, 2""").fetchall()
    want = con.execute(f"""SELECT student_sourced_id, school_sourced_id, days_enrolled, days_absent
                           FROM '{base / 'truth' / 'student_attendance.parquet'}' WHERE as_of_date = DATE
                               '{as_of}'
                           ORDER BY 1, 2""").fetchall()
    assert len(got) == len(want) > 2000
    assert got == want


# ---- quirks -------------------------------------------------------------------------------------
def test_quirks(tmp_path):
    result = generate("quirky", "small", 3, dt.date(2025, 10, 1), 9, tmp_path / "q", fmt="loose", quirks=True)
    names: set[str] = set()
    missing_manifest = 0
    for delivery in result.deliveries:
        files = _read_delivery(delivery.path)
        names |= set(files)
        missing_manifest += "manifest.csv" not in files
        for name, data in files.items():
            assert data.startswith(b"\xef\xbb\xbf"), name
            assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b""), name
            if name != "manifest.csv":
                header, rows = _rows(data)
                first_line = data[3:].split(b"\r\n")[1] if rows else b""
                assert not rows or first_line.startswith(b'"'), name
    assert "Users.csv" in names and any(n.startswith("users_2025") for n in names)
    assert "academic_sessions.csv" in names and any(n.startswith("attendance_1") for n in names)
    assert missing_manifest > 0
    files = _read_delivery(result.deliveries[0].path)
    users = next(v for k, v in files.items() if k.lower().startswith("users"))
    header, rows = _rows(users)
    assert "metadata.localCode" in header and {r["enabledUser"] for r in rows} == {"TRUE"}


# ---- config / CLI -------------------------------------------------------------------------------
def test_demo_yaml_matches_suggested_config():
    data = yaml.safe_load((REPO / "customer_configs" / "demo.yaml").read_text(encoding="utf-8"))
    expected = suggested_config("demo", "tiny", 7, 2026)
    assert data == expected
    config = CustomerConfig.model_validate(data)
    cal = build_calendar(2026)
    assert config.non_instructional_days.district == list(cal.holidays)
    assert config.licensed_schools == ["org-sch-0001"]
    assert cal.start.year == 2025 and cal.end.year == 2026 and cal.end < dt.date(2026, 11, 28)
    assert 10 <= len(cal.holidays) <= 30


def _cli(argv: list[str]) -> int:
    import argparse

    from kinvolved_assets.cli.main import COMMAND_MODULES
    from kinvolved_assets.generator.command import register

    assert "kinvolved_assets.generator.command" in COMMAND_MODULES
    parser = argparse.ArgumentParser(prog="kinvolved")
    register(parser.add_subparsers(dest="command"))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return args.func(args)


def test_cli_generate(tmp_path, capsys):
    code = _cli(["generate", "--customer", "demo", "--scale", "tiny", "--seed", "7", "--start", "2025-09-02",
                 "--days", "2", "--out", str(tmp_path / "o"), "--truth", str(tmp_path / "t")])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["demo_20250902.zip", "demo_20250903.zip"]
    assert (tmp_path / "t" / "student_attendance.parquet").exists()
    assert (tmp_path / "t" / "customer_config.yaml").exists()
    assert "2 deliveries" in capsys.readouterr().out
    assert _cli(["generate", "--customer", "Bad Name", "--start", "2025-09-02", "--days", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert _cli(["generate", "--customer", "demo", "--scale", "huge", "--start", "2025-09-02", "--days", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert _cli(["generate", "--customer", "demo", "--start", "2025-09-02", "--days", "1", "--zip", "--loose",
                 "--out", str(tmp_path / "x")]) == 2
    assert _cli(["generate", "--customer", "demo", "--start", "2025-09-02", "--days", "1", "--loose",
                 "--out", str(tmp_path / "l")]) == 0
    assert (tmp_path / "l" / "demo_20250902" / "users.csv").is_file()


def test_oneroster_12_export_is_the_same_district(tmp_path):
    kw = dict(fmt="loose", truth=None, school_year=2026)
    g11 = generate("twin", "tiny", 5, dt.date(2025, 9, 29), 4, tmp_path / "11", **kw)
    g12 = generate("twin", "tiny", 5, dt.date(2025, 9, 29), 4, tmp_path / "12", oneroster="1.2", **kw)
    assert [d.mode for d in g12.deliveries] == [d.mode for d in g11.deliveries] == ["bulk", "delta", "bulk",
                                                                                    "delta"]
    for d11, d12 in zip(g11.deliveries, g12.deliveries, strict=True):
        f11, f12 = _read_delivery(d11.path), _read_delivery(d12.path)
        assert set(f12) - set(f11) == {"roles.csv"} or "users.csv" not in f12
        for name in set(f11) - {"users.csv", "manifest.csv"}:
            assert f11[name] == f12[name], name            # every other file byte for byte
        props = {r["propertyName"]: r["value"] for r in _rows(f12["manifest.csv"])[1]}
        assert props["oneroster.version"] == "1.2" and props["file.userResources"] == "absent"
        assert props["file.roles"] == (d12.mode if "roles.csv" in f12 else "absent")
        if "users.csv" not in f12:
            continue
        h11, users11 = _rows(f11["users.csv"])
        h12, users12 = _rows(f12["users.csv"])
        assert tuple(h12) == spec.USERS_12.column_names
        hr, roles = _rows(f12["roles.csv"])
        assert tuple(hr) == spec.ROLES.column_names
        # the same people; each one's primary role and org are its 1.1 role and orgSourcedIds
        assert [u["sourcedId"] for u in users12] == [u["sourcedId"] for u in users11]
        primary = {r["userSourcedId"]: (r["role"],
                                        r["orgSourcedId"]) for r in roles if r["roleType"] == "primary"}
        assert len(primary) == sum(r["roleType"] == "primary" for r in roles)
        assert primary == {u["sourcedId"]: (u["role"], u["orgSourcedIds"]) for u in users11}
        assert {r["role"] for r in roles if r["roleType"] == "secondary"} <= {"ext:coach"}
        assert all(u["primaryOrgSourcedId"] == primary[u["sourcedId"]][1] for u in users12)
