"""Resolving the configured school year from a delivery's academic sessions: the reader's finding in
`kinvolved validate`, the failed check at ingest (issue item 1)."""

from __future__ import annotations

import datetime as dt

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import expectations_validator
from kinvolved_assets.oneroster.school_year import Session, resolve
from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.validate import validate_delivery
from tests.unit.corpus.reader_deliveries import VALID, write_delivery

HEAD = VALID["academicSessions.csv"].splitlines()[0] + "\n"
STARTING_LABEL = (HEAD + "y18,,,2018-19,schoolYear,2018-09-05,2019-06-22,,2018\n"
                  "t1,,,Fall,term,2018-09-05,2019-01-25,y18,2018\n")
TERMS_ONLY = (HEAD + "t1,,,Fall,semester,2018-09-05,2019-01-25,,2019\n"
              "t2,,,Spring,semester,2019-01-28,2019-06-22,,2019\n")


def _config(year: int) -> CustomerConfig:
    return CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=year)


def _rule(rep, prefix="session."):
    return [(f.rule, f.severity, f.message) for f in rep.findings if f.rule.startswith(prefix)]


def test_resolve_by_dates():
    d = dt.date.fromisoformat
    sy = resolve([Session("y18", "schoolYear", d("2018-09-05"), d("2019-06-22"), 2018),
                  Session("y19", "schoolYear", d("2019-09-04"), d("2020-06-20"), 2019)], 2019)
    assert (sy.start, sy.end, [s.sourced_id for s in sy.sessions]) == (d("2018-09-05"), d("2019-06-22"),
                                                                       ["y18"])
    assert [s.sourced_id for s in sy.relabelled] == ["y18"]
    assert not resolve([Session("y18", "schoolYear", d("2018-09-05"), d("2019-06-22"), 2018)], 2018).resolved


def test_validate_names_the_session_or_says_nothing_matches(tmp_path):
    delivery = write_delivery(tmp_path, {"academicSessions.csv": STARTING_LABEL}, name="a")
    ((rule, sev, msg),) = _rule(validate_delivery(delivery, customer=_config(2019), expectations=False))
    assert (rule, sev) == ("session.school_year_relabelled",
                           "warning") and "y18 (2018-09-05 .. 2019-06-22) is labelled 2018" in msg
    ((rule, sev, msg),) = _rule(validate_delivery(delivery, customer=_config(2018), expectations=False))
    assert (rule, sev) == ("session.no_school_year", "error") and "set school_year: 2019" in msg
    terms = write_delivery(tmp_path, {"academicSessions.csv": TERMS_ONLY}, name="b")
    ((rule, sev, _),) = _rule(validate_delivery(terms, customer=_config(2019), expectations=False))
    assert (rule, sev) == ("session.school_year_from_terms", "warning")
    assert _rule(validate_delivery(write_delivery(tmp_path, {}, name="c"), customer=_config(2024),
                               expectations=False)) == []


def test_ingest_check_fails_when_no_session_matches(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    write_delivery(paths.landing, {}, name="export_2024-03-05")
    out = ingest_delivery(_config(2026), paths, "2024-03-05", run_id="r1",
                          validators=[expectations_validator(engine="duckdb")])
    assert not out.promoted and "academic_sessions: expectations" in out.blocking_summary()
    check = next(c for c in out.entities["academic_sessions"].checks if c.name == "expectations")
    res = next(r for r in check.metadata["results"] if r["rule"]
               == "academic_sessions.schoolYear.matches_configured_year")
    assert (res["severity"] == "ERROR" and not res["success"] and "no academic "
                                                                  "session" in res["detail"]["school_year"])
    ok = ingest_delivery(_config(2024), paths, "2024-03-05", run_id="r2",
                         validators=[expectations_validator(engine="duckdb")])
    assert ok.promoted, ok.blocking_summary()


def _config_with_calendar(year: int) -> CustomerConfig:
    return CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=year,
                          school_years={year: {"first_day": dt.date(year - 1, 8, 25),
                                               "last_day": dt.date(year, 6, 12)}})


def test_a_configured_calendar_stands_for_the_sessions(tmp_path):
    """school_years[<year>] in the config gives the year's dates: no session of the year is no error."""
    delivery = write_delivery(tmp_path, {"academicSessions.csv": STARTING_LABEL}, name="a")
    assert _rule(validate_delivery(delivery, customer=_config_with_calendar(2018), expectations=False)) == []
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    write_delivery(paths.landing, {}, name="export_2024-03-05")
    out = ingest_delivery(_config_with_calendar(2026), paths, "2024-03-05", run_id="r1",
                          validators=[expectations_validator(engine="duckdb")])
    check = next(c for c in out.entities["academic_sessions"].checks if c.name == "expectations")
    res = next(r for r in check.metadata["results"]
               if r["rule"] == "academic_sessions.schoolYear.matches_configured_year")
    assert res["success"] \
        and "school_years[2026] calendar (2025-08-25 .. 2026-06-12)" in res["detail"]["school_year"]
    assert "academic_sessions: expectations" not in out.blocking_summary()
