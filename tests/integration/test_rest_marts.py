"""One path downstream: the generated district pulled over REST (initial full pull, nightly deltas
with corrections and deletions, a monthly full pull) gives marts identical to ingesting its CSV
deliveries, and equal to the truth, also after replaying the archived pulls (one backlog run); the hybrid
(roster over REST, attendance as CSV deliveries) too. Real
provider over HTTP, real Dagster runs (sensor -> ingest -> dbt) on an on-disk instance, then a scan
of everything written for the client secret and every token issued."""

from __future__ import annotations

import base64
import shutil
import zipfile

import duckdb
import pytest
from dagster import DagsterInstance

from kinvolved_assets.definitions import build_definitions
from kinvolved_assets.defs.keys import BACKLOG_OP
from kinvolved_assets.local_runner import process_landing, run_backlog, run_marts
from kinvolved_assets.marts.reader import content_digest, open_marts
from kinvolved_assets.rest.config import ROSTER_ENTITIES
from kinvolved_assets.rest.pull import pull_customer
from kinvolved_assets.rest.server import ProviderServer
from tests.districts import add_customer, latest_cumulative
from tests.rest_support import (
    CLIENT_ID,
    SECRET,
    START,
    generate_district,
    pull_time,
    scan_for_secrets,
    set_credentials,
    write_rest_customer,
)

pytestmark = pytest.mark.integration
CID = "springfield"


def _site(root, name):
    home, configs = root / name / "home", root / name / "customer_configs"
    home.mkdir(parents=True)
    configs.mkdir(parents=True)
    return home, configs


def _ingest(defs, instance, marts: bool = False):
    report = process_landing(defs, instance, CID, build_marts=marts)
    assert report.ingest_runs and all(ok for *_, ok in report.ingest_runs), (report.ingest_runs,
                                                                             report.sensor_logs)
    return report


def _instance(path):
    path.mkdir(parents=True)
    return DagsterInstance.local_temp(str(path))


def _no_secrets(root, server):
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert len(server.provider.issued) >= 5
    assert scan_for_secrets(root, [SECRET, basic, *server.provider.issued]) == []


def test_rest_pulls_give_the_marts_of_the_csv_deliveries_and_the_truth(tmp_path, monkeypatch):
    district = tmp_path / "district"
    gen = generate_district(district, CID, truth=tmp_path / "truth" / CID)
    assert [d.mode for d in gen.deliveries] == ["bulk", "delta", "delta", "bulk", "delta"]

    csv_home, csv_configs = _site(tmp_path, "csv")
    add_customer(csv_home, csv_configs, CID, generate_deliveries=False)
    landing = csv_home / "landing" / CID
    landing.mkdir(parents=True)
    for delivery in gen.deliveries:
        shutil.copy(delivery.path, landing / delivery.path.name)
    with _instance(tmp_path / "dagster_csv") as instance:
        report = _ingest(build_definitions(csv_configs, csv_home, settle_seconds=0), instance, marts=True)
        assert report.marts_run and report.marts_run[1]

    rest_home, rest_configs = _site(tmp_path, "rest")
    monkeypatch.setenv("KINVOLVED_HOME", str(rest_home))
    set_credentials(monkeypatch)
    with ProviderServer(district, CLIENT_ID, SECRET, as_of=START, token_seconds=600) as server, \
            _instance(tmp_path / "dagster_rest") as instance:
        customer = write_rest_customer(rest_configs, CID, server.url, page_size=300)
        defs = build_definitions(rest_configs, rest_home, settle_seconds=0)
        modes, rows = [], []
        for index, delivery in enumerate(gen.deliveries):
            server.provider.state.advance(delivery.delivery_date)
            monthly = index > 0 and delivery.mode == "bulk"
            result = pull_customer(customer, rest_home, now=pull_time(delivery.delivery_date, customer),
                                   force_full=monthly)
            modes.append(result.mode)
            rows.append(sum(result.rows.values()))
            assert result.delivery_date == delivery.delivery_date.isoformat()
            _ingest(defs, instance)
        assert run_marts(defs, instance, CID).success
        first_build = content_digest(rest_home / "warehouse" / CID / "marts.duckdb")
        # replay: the pulled deliveries were archived like deliveries; one backlog run re-ingests them all
        dates = [d.delivery_date.isoformat() for d in gen.deliveries]
        assert run_backlog(defs, instance, CID,
                           run_config={"ops": {BACKLOG_OP: {"config": {"dates": dates}}}}).success
        assert run_marts(defs, instance, CID).success
        assert content_digest(rest_home / "warehouse" / CID / "marts.duckdb") == first_build
        _no_secrets(tmp_path, server)
    assert modes == ["full", "delta", "delta", "full", "delta"], modes
    assert rows[1] < rows[0] / 3 and rows[4] < rows[3] / 3, rows

    rest_marts, csv_marts = (rest_home / "warehouse" / CID / "marts.duckdb",
                             csv_home / "warehouse" / CID / "marts.duckdb")
    assert content_digest(rest_marts) == content_digest(csv_marts)
    with open_marts(rest_marts) as marts:
        got, truth = latest_cumulative(marts, tmp_path, CID)
    assert got == truth and len(got) > 100
    raw = rest_home / "warehouse" / CID / "raw"
    q = duckdb.connect()
    deleted = q.execute(f"select count(*) from read_parquet('{raw}/attendance/**/*.parquet') "
                        "where _mode = 'delta' and status = 'tobedeleted'").fetchone()[0]
    corrected = q.execute("select count(*) from (select sourcedId from "
                          f"read_parquet('{raw}/attendance/**/*.parquet') "
                          "group by sourcedId having count(distinct absenceCode) > 1)").fetchone()[0]
    assert deleted > 0 and corrected > 0, (deleted, corrected)


def _attendance_only(delivery_path, target_dir):
    """A CSV delivery without its roster files (the hybrid district sends attendance and codes only)."""
    target = target_dir / delivery_path.name
    with zipfile.ZipFile(delivery_path) as src, zipfile.ZipFile(target, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.csv":
                lines = [ln for ln in data.decode().splitlines()
                         if not any(ln.lower().startswith(f"file.{s.lower()},") for s in
                                    ("orgs", "academicSessions", "courses", "classes", "users", "enrollments",
                                     "demographics"))]
                data = ("\n".join(lines) + "\n").encode()
            elif not name.startswith(("absenceCodes", "attendance")):
                continue
            dst.writestr(name, data)
    return target


def test_hybrid_roster_over_rest_and_attendance_as_csv_deliveries(tmp_path, monkeypatch):
    district = tmp_path / "district"
    gen = generate_district(district, CID, days=4, truth=tmp_path / "truth" / CID)      # Fri bulk, Mon delta
    home, configs = _site(tmp_path, "hybrid")
    monkeypatch.setenv("KINVOLVED_HOME", str(home))
    set_credentials(monkeypatch)
    landing = home / "landing" / CID
    with ProviderServer(district, CLIENT_ID, SECRET, as_of=START) as server, \
            _instance(tmp_path / "dagster") as instance:
        customer = write_rest_customer(configs, CID, server.url, entities=list(ROSTER_ENTITIES))
        defs = build_definitions(configs, home, settle_seconds=0)
        for delivery in gen.deliveries:
            server.provider.state.advance(delivery.delivery_date)
            result = pull_customer(customer, home, now=pull_time(delivery.delivery_date, customer))
            assert set(result.rows) == set(ROSTER_ENTITIES)
            _ingest(defs, instance)                          # the nightly roster pull
            landing.mkdir(parents=True, exist_ok=True)
            _attendance_only(delivery.path, landing)             # then the day's attendance delivery
            _ingest(defs, instance)
        assert run_marts(defs, instance, CID).success
        basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        assert scan_for_secrets(tmp_path, [SECRET, basic, *server.provider.issued]) == []
    with open_marts(home / "warehouse" / CID / "marts.duckdb") as marts:
        got, truth = latest_cumulative(marts, tmp_path, CID)
    assert got == truth and len(got) > 100
