"""Several school years in the marts and the rollover procedure (docs/operations.md, "School-year
rollover"): last year's marts (every row with school_year = 2026) are identical — digest for digest —
before the new year's first bulk, after it (config still 2026), and after the config names 2027; the
wholesale roster change of that bulk does not trip the mass-deletion guard, a second bulk of the same
new year still does; the new year's students see last year's rate and chronic flag."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.integration.test_dbt_marts import (
    D,
    build_main_raw,
    code,
    enrollment,
    event,
    failures,
    org,
    query,
    run_dbt_build,
    user,
    write_delivery,
)

pytestmark = pytest.mark.integration
LAST_YEAR_MARTS = ("dim_schools", "dim_classes", "fct_enrollments", "fct_student_daily_attendance",
                   "fct_student_class_attendance", "msr_school_daily_attendance",
                   "msr_student_cumulative_attendance", "msr_student_attendance_bands")
SUMMER, ROLLOVER, CORRECTION, NEW_BULK = D("2026-07-15"), D("2026-09-04"), D("2026-09-11"), D("2026-09-18")


def digest(db: Path, year: int) -> dict[str, tuple[int, str]]:
    """Per mart: (rows, md5 of every row of that school year in a fixed order)."""
    from kinvolved_assets.marts.figures import open_marts_file

    out = {}
    with open_marts_file(db) as con:     # any file name, the published marts.duckdb included
        for mart in LAST_YEAR_MARTS:
            out[mart] = con.execute(
                "select count(*), md5(coalesce(string_agg(r::varchar, '|' order by r::varchar), '')) "
                f"from (select t as r from {mart} as t where school_year = {year})").fetchone()
    return out


def write_year_end(raw: Path) -> None:
    """June 2026: the last attendance delivery of 2025-26 (after its last school day, 2026-06-25); u7
    (School Two, moving to School One next year) chronically absent in May and June."""
    days = [D("2026-05-01") + dt.timedelta(days=i) for i in range(56)]
    chronic = [event(f"c{i}", "u7", "S2", day.isoformat(), "A")
               for i, day in enumerate(days) if day.weekday() < 5]
    write_delivery(raw, "attendance", D("2026-06-26"), "delta", [
        event("j1", "u1", "S1", "2026-06-10", "A"), event("j2", "u3", "S1", "2026-06-11", "E"), *chronic])


def write_new_year(raw: Path) -> None:
    """Summer delta, then the first bulk of 2026-27: new sessions, classes and codes, u1-u5 leave,
    u20-u22 arrive, everyone else is enrolled again in new classes (every enrollment sourcedId new)."""
    write_delivery(raw, "users", SUMMER, "delta", [user("u2", given="Summer")])
    stay = [f"u{i}" for i in range(6, 15)]
    arrive = ["u20", "u21", "u22"]
    sessions = [{"sourcedId": "SY2027", "title": "2026-27", "type": "schoolYear",
                 "startDate": D("2026-09-01"), "endDate": D("2027-06-25"), "schoolYear": 2027}]
    classes = [{"sourcedId": f"N{s}", "title": f"Homeroom {s} 2026-27", "courseSourcedId": "CR1",
                "classType": "homeroom", "schoolSourcedId": s, "termSourcedIds": ["SY2027"], "periods": ["1"]}
               for s in ("S1", "S2")]
    users = [{**user(u), "grades": ["07"]} for u in stay + arrive] + [user("t1", "teacher")]
    enrollments = [enrollment(f"n-{u}", u, "NS1", "S1", begin="2026-09-01") for u in stay + arrive]
    # last year's code A becomes excused this year: last year's days must keep A unexcused
    codes = [code("code-A", "A", True, excused=True, category="excused_absence"),
             code("code-P", "P", False, category="present")]
    for entity, rows in [("orgs", [org("D", "District", "district"),
                                   org("S1", "School One", "school", "ID-S1", "D"),
                                   org("S2", "School Two", "school", "ID-S2", "D")]),
                         ("academic_sessions", sessions), ("classes", classes), ("users", users),
                         ("enrollments", enrollments), ("absence_codes", codes)]:
        write_delivery(raw, entity, ROLLOVER, "bulk", rows)
    write_delivery(raw, "attendance", ROLLOVER, "bulk", [
        event("n1", "u6", "S1", "2026-09-02", "A"), event("n2", "u20", "S1", "2026-09-03", "A")])


def write_corrections(raw: Path) -> None:
    """Corrections to 2025-26 delivered in 2026-27 (docs/attendance-rules.md, "Corrections to a past
    year"): an attendance bulk of this year holding one event dated last year (u13 absent on 9 June; its
    date range covers u1's 10 June absence, which it does not re-send) and a delta deleting u3's 11 June."""
    write_delivery(raw, "attendance", CORRECTION, "bulk", [
        event("n1", "u6", "S1", "2026-09-02", "A"), event("n2", "u20", "S1", "2026-09-03", "A"),
        event("late", "u13", "S1", "2026-06-09", "A")])
    write_delivery(raw, "attendance", CORRECTION + dt.timedelta(days=1), "delta", [
        {**event("j2", "u3", "S1", "2026-06-11", "E"), "status": "tobedeleted"}])


def test_rollover_keeps_last_year_identical(tmp_path):
    raw = tmp_path / "raw"
    build_main_raw(raw)
    write_year_end(raw)
    before, db_before = run_dbt_build(tmp_path, "before", raw)
    assert before.success, failures(before)
    last_year = digest(db_before, 2026)
    assert all(rows > 0 for rows, _ in last_year.values()), last_year
    assert query(db_before, "select distinct as_of_date from marts.msr_student_cumulative_attendance") == [
        (D("2026-06-25"),)]

    write_new_year(raw)
    bulk_in, db_bulk = run_dbt_build(tmp_path, "bulk", raw)          # the config still names 2026
    assert bulk_in.success, failures(bulk_in)
    assert digest(db_bulk, 2026) == last_year
    assert query(db_bulk, "select count(*) from marts.fct_student_daily_attendance "
                          "where school_year <> 2026") == [(0,)]

    rolled, db_rolled = run_dbt_build(tmp_path, "rolled", raw, school_year=2027)   # the config change
    assert rolled.success, failures(rolled)
    assert digest(db_rolled, 2026) == last_year
    years = query(db_rolled, "select school_year, min(as_of_date), count(*) "
                             "from marts.msr_student_cumulative_attendance group by 1 order by 1")
    # 2026 is over: as of its last school day; 2027 as of its first attendance delivery; 9 + 3 students
    assert years == [(2026, D("2026-06-25"), last_year["msr_student_cumulative_attendance"][0]),
                     (2027, ROLLOVER, 12)], years
    # the rollover bulk (first of its school year) was not audited against last year's roster
    assert query(db_rolled, "select entity from intermediate.int_bulk_deliveries__audited "
                            "where would_delete > 0") == []
    # this year's code A is excused, last year's A stays unexcused
    assert query(db_rolled, "select school_year, is_excused from marts.fct_student_daily_attendance "
                            "where absence_code = 'A' group by all order by all") == [
        (2026, False), (2027, True)]
    # prior-year measures: returning students carry last year's rate and flag, newcomers NULL
    prior = {r[0]: r[1:] for r in query(db_rolled, """
        select c.student_sourced_id, c.prior_year_attendance_rate, c.prior_year_is_chronically_absent,
               l.rate, l.chronic
        from marts.msr_student_cumulative_attendance as c
        left join (select student_sourced_id,
                          (sum(days_enrolled) - sum(days_absent)) / sum(days_enrolled) as rate,
                          sum(days_enrolled) >= 10
                            and sum(days_absent) >= 0.10 * sum(days_enrolled) - 1e-9 as chronic
                   from marts.msr_student_cumulative_attendance where school_year = 2026 group by 1) as l
            using (student_sourced_id)
        where c.school_year = 2027""")}
    assert prior["u20"][:2] == (None, None)
    for student in ("u6", "u7", "u13"):
        assert prior[student][0] == pytest.approx(prior[student][2]) \
            and prior[student][1] == prior[student][3]
    assert prior["u7"][1] is True and prior["u6"][1] is False, "u7: chronic last year at School Two"

    # every enrollment of last year stays in last year's fct_enrollments although the rollover bulk
    # replaced them all; this year's hold only the new ones
    enrollments = query(db_rolled, "select school_year, count(*), "
                                   "count(*) filter (where enrollment_sourced_id like 'n-%') "
                                   "from marts.fct_enrollments group by 1 order by 1")
    assert enrollments == [(2026, last_year["fct_enrollments"][0], 0), (2027, 12, 12)], enrollments
    # School Three is not in the new year's orgs bulk: it stays a school of last year only
    assert query(db_rolled, "select school_year, list(school_sourced_id order by school_sourced_id) "
                            "from marts.dim_schools group by 1 order by 1") == [
        (2026, ["S1", "S2", "S3"]), (2027, ["S1", "S2"])]

    # corrections to last year delivered this year are applied to last year, and only they
    def last_year_cumulative(db: Path) -> dict:
        return {r[0]: r[1:] for r in query(db, "select student_sourced_id, days_enrolled, days_absent "
                                               "from marts.msr_student_cumulative_attendance "
                                               "where school_year = 2026")}

    write_corrections(raw)
    corrected, db_corrected = run_dbt_build(tmp_path, "corrected", raw, school_year=2027)
    assert corrected.success, failures(corrected)
    was, now = last_year_cumulative(db_rolled), last_year_cumulative(db_corrected)
    assert now["u13"] == (was["u13"][0], was["u13"][1] + 1) and now["u3"] == (was["u3"][0], was["u3"][1] - 1)
    assert {s: v for s, v in now.items() if s not in ("u13", "u3")} == \
        {s: v for s, v in was.items() if s not in ("u13", "u3")}
    assert query(db_corrected, "select student_sourced_id, \"date\", absence_code "
                               "from marts.fct_student_daily_attendance "
                               "where school_year = 2026 and school_sourced_id = 'S1' "
                               "and \"date\" between '2026-06-09' and '2026-06-11' "
                               "and absent_fraction > 0 order by 1") == [
        ("u1", D("2026-06-10"), "A"), ("u13", D("2026-06-09"), "A")]
    # the operator sees which deliveries changed the closed year (counts only); none before them
    assert query(db_rolled, "select count(*) "
                            "from intermediate.int_past_year_corrections__counted") == [(0,)]
    assert query(db_corrected, "select school_year, delivery_date, mode, corrected_rows, deleted_rows, "
                               "students from intermediate.int_past_year_corrections__counted "
                               "order by delivery_date") == [
        (2026, CORRECTION, "bulk", 1, 0, 1), (2026, CORRECTION + dt.timedelta(days=1), "delta", 1, 1, 1)]
    # the bulk's date range reached into last year: nothing of last year was counted as deleted by it
    assert query(db_corrected, "select would_delete from intermediate.int_bulk_deliveries__audited "
                               "where entity = 'attendance'") == [(0,)]
    corrected_year = digest(db_corrected, 2026)
    for mart in ("dim_schools", "dim_classes", "fct_enrollments"):
        assert corrected_year[mart] == last_year[mart], mart

    # the guard still stands inside the new year: a second bulk deleting most enrollments is blocked
    write_delivery(raw, "enrollments", NEW_BULK, "bulk",
                   [enrollment("n-u6", "u6", "NS1", "S1", begin="2026-09-01")])
    blocked, _ = run_dbt_build(tmp_path, "blocked", raw, school_year=2027)
    assert ("assert_no_mass_deletion", "fail") in failures(blocked)


def test_two_generated_years_through_the_pipeline(platform, instance, tmp_path):
    """A generated district over 2025-26 and 2026-27 through the real sensor → Dagster → dbt path:
    the last delivery of 2025-26, the config change to 2027, the rollover bulk (students promoted,
    leaving, arriving; every enrollment new) and a nightly delta. At every as-of date of the second year
    both years equal the truth and last year's digest stays the one of its last delivery."""
    import datetime as dt
    import shutil

    import duckdb
    import yaml

    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.generator.config import suggested_config
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.local_runner import process_landing
    from kinvolved_assets.marts.figures import open_marts_file

    first = build_calendar(2026)
    dates = [first.end - dt.timedelta(days=1), D("2026-09-01"), D("2026-09-02")]   # last school day, Sep 1-2
    gen = generate("roll", "tiny", 7, dates[0], 1, tmp_path / "outbox", truth=tmp_path / "truth",
                   school_year=2026, years=2, dates=dates)
    assert [d.mode for d in gen.deliveries] == ["bulk", "bulk", "delta"]
    truth = str(gen.truth_path)
    con = duckdb.connect()
    columns = "student_sourced_id, school_sourced_id, days_enrolled, days_absent, is_chronically_absent"

    def expected(year: int, as_of: dt.date) -> list:
        return con.execute(f"select {columns} from read_parquet(?) where school_year = ? and as_of_date = ? "
                           "order by all", [truth, year, as_of]).fetchall()

    config_file = platform.config_dir / "roll.yaml"
    config_file.write_text(yaml.safe_dump(suggested_config("roll", "tiny", 7, 2026), sort_keys=False))
    landing = platform.landing("roll")
    landing.mkdir(parents=True)
    marts_db = platform.warehouse("roll") / "marts.duckdb"
    year_end = None
    for index, delivery in enumerate(gen.deliveries):
        if index == 1:   # the rollover procedure: the config names 2027 before its first bulk is ingested
            config_file.write_text(yaml.safe_dump(suggested_config("roll", "tiny", 7, 2026, years=2),
                                                  sort_keys=False))
        shutil.copy(delivery.path, landing / delivery.path.name)
        report = process_landing(platform.definitions(), instance, "roll")
        assert [ok for *_, ok in report.ingest_runs] == [True], report.ingest_runs
        assert report.marts_run and report.marts_run[1], report.marts_run
        with open_marts_file(marts_db) as marts:
            got = {year: marts.execute(f"select {columns} from msr_student_cumulative_attendance "
                                       "where school_year = ? order by all", [year]).fetchall()
                   for year in (2026, 2027)}
        assert got[2026] == expected(2026, dates[0]), \
            f"{delivery.delivery_date}: 2025-26 differs from its truth"
        if index == 0:
            year_end = digest(marts_db, 2026)
            assert got[2027] == []
            continue
        assert digest(marts_db, 2026) == year_end, f"{delivery.delivery_date}: last year's marts changed"
        assert got[2027] == expected(2027, delivery.delivery_date), \
            f"{delivery.delivery_date}: 2026-27 differs"

    # the scenario: promoted, leaving and arriving students; the rollover bulk replaced every enrollment
    last, this = ({r[0] for r in expected(y, d)} for y, d in ((2026, dates[0]), (2027, dates[-1])))
    assert last & this and last - this and this - last, (len(last & this), len(last - this), len(this - last))
    # prior-year measures: last year's rate and flag over all the student's schools
    with open_marts_file(marts_db) as marts:
        prior = marts.execute("""
            select count(*), count(*) filter (where c.prior_year_attendance_rate is not null),
                   count(*) filter (where abs(c.prior_year_attendance_rate - l.rate) > 1e-12
                                       or c.prior_year_is_chronically_absent <> l.chronic)
            from msr_student_cumulative_attendance as c
            left join (select student_sourced_id,
                              (sum(days_enrolled) - sum(days_absent)) / sum(days_enrolled) as rate,
                              sum(days_enrolled) >= 10
                                and sum(days_absent) >= 0.10 * sum(days_enrolled) - 1e-9 as chronic
                       from msr_student_cumulative_attendance where school_year = 2026 group by 1) as l
                using (student_sourced_id)
            where c.school_year = 2027""").fetchone()
    assert prior[0] == len(this) and prior[1] == len(last & this) and prior[2] == 0, prior
    # each year's enrollments and schools stay in the roster marts: every student x school of a year's
    # truth is enrolled there in that year's fct_enrollments, at a licensed school of that year's dim_schools
    with open_marts_file(marts_db) as marts:
        for year, as_of in ((2026, dates[0]), (2027, dates[-1])):
            enrolled = set(marts.execute(
                "select distinct e.user_sourced_id, e.school_sourced_id from fct_enrollments as e "
                "inner join dim_schools as s using (school_year, school_sourced_id) "
                "where e.school_year = ? and e.role = 'student' and s.is_licensed", [year]).fetchall())
            pairs = {(r[0], r[1]) for r in expected(year, as_of)}
            assert pairs and pairs <= enrolled, (year, len(pairs - enrolled))
