"""The attendance bands mart, the charts on the mart materializations, the `reports/attendance`
asset and `kinvolved report`, checked against the generator's ground truth at every as-of date."""

from __future__ import annotations

import re

import duckdb
import pytest
import yaml
from dagster import AssetKey

from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import open_marts
from kinvolved_assets.report.data import band_thresholds

pytestmark = pytest.mark.integration
MIN_DAYS = 3


def _truth(home, as_of: str) -> dict:
    t = band_thresholds()
    con = duckdb.connect()
    rows = con.execute(
        f"""select count(distinct student_sourced_id), sum(days_enrolled - days_absent) / sum(days_enrolled),
               count(distinct student_sourced_id) filter (where days_enrolled >= {MIN_DAYS}
                   and days_absent >= 0.1 * days_enrolled - 1e-9),
               count(*) filter (where attendance_rate >= {t['satisfactory']} - 1e-9),
               count(*) filter (where attendance_rate < {t['satisfactory']} - 1e-9 and attendance_rate >=
                   {t['at_risk']} - 1e-9),
               count(*) filter (where attendance_rate < {t['at_risk']} - 1e-9 and attendance_rate >=
                   {t['moderate_chronic']} - 1e-9),
               count(*) filter (where attendance_rate < {t['moderate_chronic']} - 1e-9)
            from read_parquet(?) where as_of_date = cast(? as date)""",
        [str(home / "truth" / "acme" / "student_attendance.parquet"), as_of]).fetchone()
    return {"students": rows[0], "rate": rows[1], "chronic": rows[2],
            "bands": dict(zip(("satisfactory", "at_risk", "moderate_chronic", "severe_chronic"), rows[3:],
                              strict=True))}


def test_bands_charts_report_asset_and_cli_match_truth(platform, instance, capsys, monkeypatch):
    monkeypatch.delenv("KINVOLVED_REPORTS_URL", raising=False)     # the links of the default report server
    platform.add_customer("acme", days=6)
    config_file = platform.config_dir / "acme.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["attendance"] = {**config.get("attendance", {}), "min_enrolled_days": MIN_DAYS}
    config_file.write_text(yaml.safe_dump(config))
    report = process_landing(platform.definitions(), instance, "acme")
    assert report.marts_run and report.marts_run[1]
    con = open_marts(platform.warehouse("acme") / "marts.duckdb")
    as_of = str(con.execute("select max(as_of_date) from msr_student_attendance_bands").fetchone()[0])
    truth = _truth(platform.home, as_of)
    bands = dict(con.execute("select attendance_band, count(*) from msr_student_attendance_bands "
                             "group by 1").fetchall())
    assert {b: bands.get(b, 0) for b in truth["bands"]} == truth["bands"]
    assert sum(bands.values()) == con.execute("select count(*) from "
                                              "msr_student_cumulative_attendance").fetchone()[0]
    assert truth["chronic"] > 0, "the test district must have chronically absent students"

    # charts on the mart materializations: Markdown images with PNG data URIs
    for mart in ("msr_school_daily_attendance", "msr_student_cumulative_attendance",
                 "msr_student_attendance_bands"):
        meta = instance.get_latest_materialization_event(AssetKey(["marts",
                                                                   mart])).asset_materialization.metadata
        images = re.findall(r"!\[[^\]]+\]\(data:image/png,((?:%[0-9A-F]{2})+)\)", meta["chart"].value)
        assert images and all(bytes.fromhex(i.replace("%", "")).startswith(b"\x89PNG") for i in images), mart
        encoded = "".join(re.findall(r"\]\(data:image/png,([^)]*)\)", meta["chart"].value))
        assert encoded and not re.search(r"[A-Za-z]{3,}", encoded), "no word in the image data"

    # the reports/attendance asset of the same run
    event = instance.get_latest_materialization_event(AssetKey(["reports", "attendance"]))
    assert event.run_id == report.marts_run[0]
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert meta["as_of_date"] == as_of and meta["students"] == truth["students"]
    assert meta["chronically_absent"] == truth["chronic"] and meta["bands"] == truth["bands"]
    assert meta["attendance_rate"] == pytest.approx(truth["rate"], abs=1e-4)
    html_path = platform.warehouse("acme") / "attendance_reports" / as_of / "attendance.html"
    assert meta["report"] == str(html_path)
    assert meta["report_url"] == f"http://127.0.0.1:3001/acme/attendance_reports/{as_of}/attendance.html"
    page = html_path.read_text()
    assert (page.count("src='data:image/png,%89%50%4E%47") == 4
            and "http://" not in page and "https://" not in page)
    students = [r[0] for r in con.execute("select distinct student_sourced_id from "
                                          "msr_student_attendance_bands").fetchall()]
    assert not [s for s in students if s in page], "no student id in the report"
    for png in ("daily_attendance_rate", "chronic_absence_by_school", "chronic_absence_by_grade",
                "attendance_bands"):
        assert (html_path.parent / f"{png}.png").read_bytes().startswith(b"\x89PNG")

    # kinvolved report at an earlier date: the days up to it, as known today (later corrections included)
    from kinvolved_assets.cli.main import main

    dates = [str(d) for (d,) in con.execute('select distinct "date" from fct_student_daily_attendance order '
                                            'by 1').fetchall()]
    for date in dates[:2]:
        capsys.readouterr()
        assert main(["report", "acme", "--as-of", date]) == 0
        out = capsys.readouterr().out
        students, rate, chronic = con.execute(
            f"""select count(distinct student_sourced_id), sum(n - a) / sum(n),
                       count(distinct student_sourced_id) filter (where n >= {MIN_DAYS} and a >= 0.1 * n -
                           1e-9)
                from (select student_sourced_id, count(*) as n, sum(absent_fraction) as a
                      from fct_student_daily_attendance where "date" <= cast(? as date) group by all)""",
            [date]).fetchone()
        assert (f"as of {date}: attendance rate {rate:.2%}, {chronic} of {students} students "
                "chronically absent") in out
        written = platform.warehouse("acme") / "attendance_reports" / date / "attendance.html"
        assert f"report: {written}" in out and written.exists()
        assert f"served: http://127.0.0.1:3001/acme/attendance_reports/{date}/attendance.html" in out
    assert main(["report", "acme", "--as-of", "2025-13-01"]) == 2
    assert main(["report", "nobody"]) == 2
