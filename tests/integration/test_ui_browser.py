"""The Dagster UI and the district report in a real headless Chromium, over a demo-like instance
(deliveries, a blocked re-delivery, marts, the report) served by a real `dagster dev` on 127.0.0.1.
Each test asserts on the page's content and keeps a screenshot under KINVOLVED_HOME/screenshots/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from kinvolved_assets.local_runner import process_landing
from tests.browser import Browser, DagsterDev, chromium_path, free_port, graphql

pytestmark = pytest.mark.integration
ERROR_BANNERS = ("Something went wrong", "Unexpected GraphQL error", "Python Error", "An error occurred")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    from kinvolved_assets.cli.runs import instance_for
    from kinvolved_assets.definitions import build_definitions
    from tests.districts import add_customer

    root = tmp_path_factory.mktemp("ui")
    home, config_dir = root / "home", root / "customer_configs"
    home.mkdir()
    config_dir.mkdir()
    saved = {k: os.environ.get(k) for k in ("KINVOLVED_HOME", "KINVOLVED_CONFIG_DIR", "DAGSTER_HOME",
                                            "KINVOLVED_REPORTS_URL")}
    reports_port = free_port()          # `kinvolved serve-reports`, the server of the UI's report links
    os.environ.update(KINVOLVED_HOME=str(home), KINVOLVED_CONFIG_DIR=str(config_dir),
                      KINVOLVED_REPORTS_URL=f"http://127.0.0.1:{reports_port}")
    generated = add_customer(home, config_dir, "demo", days=4)
    instance = instance_for(home)
    defs = build_definitions(config_dir, home, settle_seconds=0)
    good = process_landing(defs, instance, "demo")
    assert good.marts_run and good.marts_run[1]
    first = generated.deliveries[0].path          # then a re-sent first delivery without a required column
    date = good.ingest_runs[0][0]
    bad = first.with_name(f"demo_{date.replace('-', '')}_resent.zip")
    with zipfile.ZipFile(first) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item).decode("utf-8")
            if item.endswith("attendance.csv"):
                data = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 5)
                                 for line in data.splitlines()) + "\n"
            zout.writestr(item, data)
    blocked = process_landing(defs, instance, "demo")
    assert [ok for *_, ok in blocked.ingest_runs] == [False]
    dev = DagsterDev(home, config_dir, home / "dagster_home", home / "logs" / "dagster_dev.log")
    reports = subprocess.Popen([str(Path(sys.executable).parent / "kinvolved"), "serve-reports"],
                               env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        dev.wait_ready()
        graphql(dev.base, "mutation { setNuxSeen }")     # the "Join the Dagster community" modal
        browser = Browser(root / "chromium-profile")
        yield {"dev": dev, "browser": browser, "home": home, "date": date, "bad": bad.name,
               "promoted": len(good.ingest_runs), "dates": [d for d, *_ in good.ingest_runs],
               "shots": home / "screenshots",
               "reports": f"http://127.0.0.1:{reports_port}"}
    finally:
        if browser is not None:
            browser.close()
        dev.stop()
        reports.terminate()
        try:
            reports.wait(timeout=30)
        except subprocess.TimeoutExpired:   # a loaded machine: the fixture must not outlive its test
            reports.kill()
            reports.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _open(site, path: str, *needles: str, timeout: float = 90) -> str:
    browser = site["browser"]
    browser.goto(site["dev"].base + path if path.startswith("/") else path)
    text = browser.wait_for_text(*needles, timeout=timeout)
    time.sleep(1.5)   # let the last requests render
    text = browser.text()
    assert not [b for b in ERROR_BANNERS if b in text], text[:2000]
    assert "Join the Dagster community" not in text
    return text


def _link(site, needle: str) -> str:
    """The href of the UI's link whose target contains ``needle`` (a report of `kinvolved serve-reports`)."""
    href = site["browser"].eval("(() => { const a = [...document.querySelectorAll('a')].find(e => "
                                "e.href.includes("
                                f"{json.dumps(needle)})); return a ? a.href : null; }})()")
    assert href and href.startswith(site["reports"] + "/"), href
    return href


def test_asset_lineage(site):
    text = _open(site, "/asset-groups", "oneroster_raw", "dbt_marts", "reports")
    assert "dbt_staging" in text and "dbt_intermediate" in text
    assert site["browser"].screenshot(site["shots"] / "01_asset_lineage.png").stat().st_size > 20_000
    log = (site["home"] / "logs" / "dagster_dev.log").read_text()    # what `make ui` prints
    assert "Serving dagster-webserver" in log
    for noise in ("BetaWarning", "SupersessionWarning", "PreviewWarning", "dg dev", "in the current folder"):
        assert noise not in log, noise


def test_raw_asset_partitions(site):
    text = _open(site, "/assets/oneroster/attendance?view=partitions", "Materialized (",
                 "Partitions Selected")
    counts = {k: int(v) for k, v in re.findall(r"(Failed|Materialized) \((\d+)\)", text)}
    # Dagster marks the re-delivered date Failed (its latest run failed); its earlier data stays live
    assert counts == {"Failed": 1, "Materialized": site["promoted"] - 1}, counts
    assert "demo" in text and "warehouse//raw" not in text
    site["browser"].screenshot(site["shots"] / "02_raw_partitions.png")
    # the blocked date's pane: the live materialization (the good delivery) and the blocked one beside it
    text = _open(site, f"/assets/oneroster/attendance?view=partitions&partition=demo%7C{site['date']}",
                 f"demo|{site['date']}", "did not materialize this asset", "blocked_delivery_file",
                 "live_delivery_date")
    assert "Latest materialization" in text and site["bad"] in text and "failed_checks" in text
    assert f"demo_{site['date'].replace('-', '')}.zip" in text        # the delivery that stays live
    site["browser"].screenshot(site["shots"] / "02b_blocked_partition.png")
    # the description's link: the partitions view with the delivered dates only, newest first
    _open(site, "/assets/oneroster/attendance", "The delivered dates only")
    href = site["browser"].eval("[...document.querySelectorAll('a')].find(a => a.innerText.trim() === "
                                "'The delivered dates only').getAttribute('href')")
    text = _open(site, href, "Partitions Selected", "Materialized (")
    listed = re.findall(r"^(\d{4}-\d{2}-\d{2})$", text.split("Partitions Selected", 1)[1], re.M)
    assert set(listed) == set(site["dates"]) and listed[0] == max(site["dates"]), listed
    site["browser"].screenshot(site["shots"] / "02c_delivered_dates.png")


def test_blocked_delivery_checks(site):
    browser = site["browser"]
    text = _open(site, "/assets/oneroster/attendance?view=checks", "contract", "Latest execution",
                 "FAILED, delivery BLOCKED (not promoted)")
    latest = text.split("Latest execution", 1)[1]
    assert "Not evaluated" not in latest.split("Metadata", 1)[0]
    assert f"delivery {site['date']} ({site['bad']}, sha256 " in latest
    assert f"live: the delivery of {site['date']} (" in latest and "stays published" in latest
    assert "Failed" in latest and f"demo|{site['date']}" in latest and "live_rows" in latest
    browser.screenshot(site["shots"] / "04_blocked_delivery_checks.png")
    # the blocked re-delivery is the date's second delivery: its own report folder, reports/<date>/seq=<n>/
    report = _link(site, f"/demo/reports/{site['date']}/seq=")
    assert report.endswith("/validation.html"), report
    text = _open(site, report, f"Delivery {site['date']} of demo: BLOCKED",
                 "Blocked by: attendance: contract")
    assert site["bad"] in text
    browser.screenshot(site["shots"] / "04c_validation_report.png")
    _open(site, "/assets/oneroster/attendance?view=checks", "contract", "Execution history")
    assert browser.click_text("Execution history")
    text = browser.wait_for_text("FAILED, delivery BLOCKED (not promoted)", timeout=60)
    assert f"delivery {site['date']} ({site['bad']}, sha256 " in text
    assert f"live: the delivery of {site['date']} (" in text and "Passed" in text
    browser.screenshot(site["shots"] / "04a_blocked_delivery_check_history.png")
    text = _open(site, "/assets/oneroster/attendance?view=events", "BLOCKED by attendance: contract")
    assert f"Partition demo|{site['date']} observed in run" in text
    assert "live_delivery_date" in text and site["bad"] in text
    browser.screenshot(site["shots"] / "04b_blocked_delivery_observation.png")


def test_mart_page_with_figures_and_chart(site):
    browser = site["browser"]
    text = _open(site, "/assets/marts/msr_student_attendance_bands?view=events", "dagster/row_count",
                 "attendance_rate",
                 "chronically_absent", "as_of_date")
    assert "chart" in text
    browser.screenshot(site["shots"] / "03a_mart_figures.png")
    assert browser.click_text("[Show Markdown]") or browser.eval(
        "(() => { const el = [...document.querySelectorAll('button, a')].find(e => /Show "
        "Markdown/.test(e.innerText));"
        " if (el) { el.click(); return true; } return false; })()")
    deadline = time.monotonic() + 30
    loaded = 0
    while time.monotonic() < deadline and not loaded:
        loaded = browser.eval("[...document.querySelectorAll('img')].filter(i => "
                              "i.src.startsWith('data:image/png,')"
                              " && i.complete && i.naturalWidth > 300).length")
        time.sleep(0.5)
    assert loaded >= 1, "the chart image did not render in the UI"
    browser.screenshot(site["shots"] / "03b_mart_chart.png")


def test_district_report(site):
    reports = site["home"] / "warehouse" / "demo" / "attendance_reports"
    report = sorted(reports.glob("*/attendance.html"))[-1]
    browser = site["browser"]
    text = _open(site, report.as_uri(), "District attendance report", "Chronic absence by grade")
    assert "attendance rate" in text and "severe chronic" in text
    images = browser.eval("[...document.images].map(i => i.complete && i.naturalWidth > 300)")
    assert images == [True] * 4
    browser.screenshot(site["shots"] / "05_district_report.png")
    # the same report from the UI: reports/attendance links it (served by `kinvolved serve-reports`)
    _open(site, "/assets/reports/attendance?view=events", "report_url", "chronically_absent")
    href = _link(site, f"/demo/attendance_reports/{report.parent.name}/attendance.html")
    text = _open(site, href, "District attendance report", "Chronic absence by grade")
    assert browser.eval("[...document.images].map(i => i.complete && i.naturalWidth > 300)") == [True] * 4
    browser.screenshot(site["shots"] / "05b_district_report_from_the_ui.png")


def test_dbt_docs_against_the_published_marts(site):
    from kinvolved_assets.cli.main import main

    assert main(["docs", "--customer", "demo"]) == 0
    target = site["home"] / "docs" / "demo" / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    columns = catalog["nodes"]["model.kinvolved.msr_school_daily_attendance"]["columns"]
    assert columns["students_with_absence"]["type"].upper() == "BIGINT"
    assert "model.kinvolved.msr_student_attendance_bands" in catalog["nodes"]
    assert (target / "index.html").stat().st_size > 10_000
