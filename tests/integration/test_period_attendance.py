"""Period-only schools (attendance.daily_from_periods): a tiny district of five schools, four of which
send period events only, through the real sensor → Dagster → dbt path; one marts build serves every
rule at once (a rule per school): all_periods, share with a half-day share, minutes with precedence
periods, none, and a school sending daily codes. The marts equal the rules applied in plain Python to
the simulator's own per-day period figures, to the last student-day."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import duckdb
import pytest

from kinvolved_assets.generator.calendar import build_calendar
from kinvolved_assets.generator.truth import day_fraction
from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import open_marts

pytestmark = pytest.mark.integration

DEFAULT_RULE = {"mode": "share", "share": 0.5, "half_day_share": 0.25, "code": "AU"}
SCHOOL_RULES = {
    "org-sch-0001": {"mode": "all_periods", "code": "abs-d-au", "half_day_share": 0.5},   # code by sourcedId
    "org-sch-0003": {"mode": "minutes", "minutes": 200, "half_day_share": 0.3, "code": "AE",
                     "precedence": "periods"},
    "org-sch-0004": {"mode": "none"},
}
PERIOD_ONLY = ("org-sch-0001", "org-sch-0002", "org-sch-0003", "org-sch-0004")


def _rule(school: str) -> dict:
    return {**DEFAULT_RULE, "precedence": "daily_event", **SCHOOL_RULES.get(school, {})}


@pytest.fixture(scope="module")
def period_marts(tmp_path_factory):
    from dagster import DagsterInstance
    from districts import add_customer

    home = tmp_path_factory.mktemp("periods")
    config_dir = home / "configs"
    config_dir.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("KINVOLVED_HOME", str(home))
    mp.setenv("KINVOLVED_CONFIG_DIR", str(config_dir))
    try:
        # one bulk on the 4th Friday of school, with every event since the first day
        start = build_calendar(2026).start + dt.timedelta(days=25)
        add_customer(home, config_dir, "periods", scale="tiny", schools=5, period_only_schools=4, start=start,
                     days=1, attendance={"daily_from_periods": {**DEFAULT_RULE, "schools": SCHOOL_RULES}})
        from kinvolved_assets.definitions import build_definitions

        with DagsterInstance.ephemeral() as instance:
            report = process_landing(build_definitions(config_dir, home, settle_seconds=0), instance,
                                     "periods")
        assert [ok for *_, ok in report.ingest_runs] == [True], report.ingest_runs
        assert report.marts_run and report.marts_run[1], report.marts_run
        with open_marts(home / "warehouse" / "periods" / "marts.duckdb") as marts:
            daily = marts.execute(
                'select student_sourced_id, school_sourced_id, "date", absent_fraction, absence_code, '
                'is_excused '
                "from fct_student_daily_attendance").fetchall()
            cumulative = marts.execute("select student_sourced_id, school_sourced_id, days_enrolled, "
                                       "days_absent "
                                       "from msr_student_cumulative_attendance order by all").fetchall()
            ignored = marts.execute("select school_sourced_id, reason, count(*) from "
                                    "intermediate.int_period_events__ignored "
                                    "group by all order by all").fetchall()
        truth = duckdb.connect().execute(
            "select * from read_parquet(?)", [str(home / "truth" / "periods" / "period_days.parquet")])
        names = [c[0] for c in truth.description]
        stats = {(r["student_sourced_id"], r["school_sourced_id"], r["date"]): r
                 for r in (dict(zip(names, row, strict=True)) for row in truth.fetchall())}
        yield {"home": home, "daily": daily, "cumulative": cumulative, "ignored": ignored, "stats": stats}
    finally:
        mp.undo()


def test_period_only_days_equal_the_rules(period_marts):
    stats, daily = period_marts["stats"], period_marts["daily"]
    checked = {school: Counter() for school in PERIOD_ONLY}
    mismatches = []
    for student, school, day, fraction, _code, _excused in daily:
        if school not in PERIOD_ONLY:
            continue
        row = stats.get((student, school, day))
        expected = day_fraction(_rule(school), row) if row else 0.0
        checked[school][expected] += 1
        if abs(fraction - expected) > 1e-12:
            mismatches.append((student, school, day.isoformat(), fraction, expected))
    assert not mismatches, f"{len(mismatches)} student-days differ, e.g. {mismatches[:5]}"
    # every rule really decided days: full days everywhere a rule applies, half days where one is set
    for school in ("org-sch-0001", "org-sch-0002", "org-sch-0003"):
        assert checked[school][1.0] > 5 and checked[school][0.5] > 0, (school, checked[school])
    assert (checked["org-sch-0004"][1.0] + checked["org-sch-0004"][0.5]
            < 10), "mode none: only daily codes count"
    # the rules differ: the same figures under another school's rule would give other days
    rows = [r for r in stats.values() if r["school_sourced_id"] == "org-sch-0002" and r["has_periods"]]
    assert any(day_fraction(_rule("org-sch-0001"), r) != day_fraction(_rule("org-sch-0002"), r) for r in rows)


def test_precedence_and_codes(period_marts):
    stats, daily = period_marts["stats"], period_marts["daily"]
    by_key = {(s, sc, d): (f, code, exc) for s, sc, d, f, code, exc in daily}
    both = [k for k,
            r in stats.items() if r["has_periods"] and r["daily_fraction"] is not None and k in by_key]
    schools = {k[1] for k in both}
    assert {"org-sch-0002", "org-sch-0003"} <= schools, "days with a daily code and period events at both"
    for key in both:
        fraction = by_key[key][0]
        if key[1] == "org-sch-0003":   # precedence periods: the periods decide
            row = stats[key]
            assert fraction == pytest.approx(day_fraction({**_rule(key[1]), "precedence": "periods"}, row))
        else:                          # precedence daily_event (default): the daily code wins
            assert fraction == pytest.approx(stats[key]["daily_fraction"])
    derived = {sc: {(c, e) for (s, sc2, d), (f, c, e) in by_key.items() if sc2 == sc and f > 0
                    and stats.get((s, sc, d), {}).get("daily_fraction") is None}
               for sc in ("org-sch-0001", "org-sch-0002", "org-sch-0003")}
    assert derived["org-sch-0001"] == {("AU", False)}, "abs-d-au resolves to the title AU, unexcused"
    assert derived["org-sch-0002"] == {("AU", False)}
    assert derived["org-sch-0003"] == {("AE", True)}, "AE: excused"


def test_cumulative_and_ignored_events(period_marts):
    stats, daily, home = period_marts["stats"], period_marts["daily"], period_marts["home"]
    expected: dict[tuple[str, str], list[float]] = {}
    truth = duckdb.connect().execute(
        "select student_sourced_id, school_sourced_id, days_enrolled, days_absent from read_parquet(?) "
        "order by all", [str(home / "truth" / "periods" / "student_attendance.parquet")]).fetchall()
    for student, school, day, _f, _c, _e in daily:
        cell = expected.setdefault((student, school), [0, 0.0])
        cell[0] += 1
        if school in PERIOD_ONLY:
            row = stats.get((student, school, day))
            cell[1] += day_fraction(_rule(school), row) if row else 0.0
    for student, school, enrolled, absent in truth:        # the daily-code schools: the generator's truth
        if school not in PERIOD_ONLY:
            assert expected[(student, school)][0] == enrolled
            expected[(student, school)][1] = absent
    got = [(s, sc, e, pytest.approx(a)) for s, sc, e, a in period_marts["cumulative"]]
    assert got == sorted((s, sc, e, a) for (s, sc), (e, a) in expected.items() if e > 0)
    # events for a class the student is not enrolled in are ignored and counted (schools with a rule)
    ignored_truth: dict[str, int] = {}
    for r in stats.values():
        if r["ignored_events"] and _rule(r["school_sourced_id"])["mode"] != "none":
            ignored_truth[r["school_sourced_id"]] = ignored_truth.get(r["school_sourced_id"],
                                                                      0) + r["ignored_events"]
    assert ignored_truth and period_marts["ignored"] == [
        (school, "class_not_enrolled", n) for school, n in sorted(ignored_truth.items())]
