"""A pull killed with SIGKILL mid-way promotes nothing; the next tick (a `rest_pull` Dagster run)
removes its leftovers and pulls again; the delivery sensor picks the pulled delivery up like a delivery.
A failed pull run is retried by the retry sensor's decision, at most 3 attempts."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, SkipReason

from kinvolved_assets.definitions import build_definitions
from kinvolved_assets.defs.rest_pull import PULL_JOB, retry_decision
from kinvolved_assets.delivery.landing import find_deliveries
from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.rest.server import ProviderServer
from tests.rest_support import CLIENT_ID, ID_ENV, SECRET, SECRET_ENV, generate_district, scan_for_secrets
from tests.rest_support import write_rest_customer as write_customer

pytestmark = pytest.mark.reliability
CID = "restco"


def _pull_run(defs, instance, full: bool = False):
    return defs.resolve_job_def(PULL_JOB).execute_in_process(
        run_config={"ops": {"pull_oneroster_api": {"config": {"customer": CID, "full": full}}}},
        instance=instance,
        tags={"kinvolved/customer": CID, "kinvolved/pull_mode": "full" if full else "delta",
                                 "kinvolved/pull_attempt": "1"}, raise_on_error=False)


def test_killed_pull_is_never_promoted_and_the_next_tick_pulls_again(tmp_path, monkeypatch):
    district = tmp_path / "district"
    generate_district(district, CID, days=4)
    home, configs = tmp_path / "home", tmp_path / "customer_configs"
    home.mkdir()
    configs.mkdir()
    for key, value in {"KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": str(configs), ID_ENV: CLIENT_ID,
                       SECRET_ENV: SECRET}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "dagster").mkdir()
    with ProviderServer(district, CLIENT_ID, SECRET, as_of=dt.date(2025, 9, 29)) as server, \
            DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        customer = write_customer(configs, CID, server.url, page_size=50)
        server.provider.faults.slow, server.provider.faults.slow_seconds = 10_000, 0.05
        work = home / "archive" / CID / "rest"
        child = subprocess.Popen([str(Path(sys.executable).parent / "kinvolved"), "pull", CID],
                                 env=dict(os.environ),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(work.glob(".pull-*.tmp/pages/*/*.json.gz"))) < 8:
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        landing = customer.landing_dir(home)
        assert list(work.glob(".pull-*.tmp")), "the pull was killed before it began"
        assert find_deliveries(landing, customer.tz) == [] and not (work / "pulls.jsonl").exists()

        server.provider.faults.slow = 0
        defs = build_definitions(configs, home, settle_seconds=0)
        run = _pull_run(defs, instance)
        assert run.success
        metadata = run.output_for_node("pull_oneroster_api")
        assert sum(metadata["rows"].values()) > 1000
        materialized = instance.get_run_stats(run.run_id)
        assert materialized.steps_succeeded == 1
        assert not list(work.glob(".pull-*.tmp")) and len(json.loads(
            next(work.glob("*/pull.json")).read_text())["files"]) == 9
        deliveries = find_deliveries(landing, customer.tz)
        assert [d.kind for d in deliveries] == ["folder"] and deliveries[0].name.startswith("rest_")

        report = process_landing(defs, instance, CID, build_marts=False)
        assert [ok for *_, ok in report.ingest_runs] == [True]
        assert (customer.paths(home).raw / "users").is_dir()
        assert scan_for_secrets(tmp_path, [SECRET, *server.provider.issued]) == []


def test_a_failed_pull_run_is_retried_at_most_three_times(tmp_path, monkeypatch):
    district = tmp_path / "district"
    generate_district(district, CID, days=1)
    home, configs = tmp_path / "home", tmp_path / "customer_configs"
    home.mkdir()
    configs.mkdir()
    monkeypatch.setenv(ID_ENV, CLIENT_ID)
    monkeypatch.setenv(SECRET_ENV, "not-the-secret")
    with ProviderServer(district, CLIENT_ID, SECRET) as server, DagsterInstance.ephemeral() as instance:
        write_customer(configs, CID, server.url)
        defs = build_definitions(configs, home, settle_seconds=0)
        assert {s.name for s in defs.schedules} >= {f"daily_pull__{CID}", f"monthly_pull__{CID}"}
        assert isinstance(retry_decision(instance, CID), SkipReason)
        first = _pull_run(defs, instance, full=True)
        assert not first.success
        failure = [e for e in first.all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert ("the provider refused the credentials of customer "
                "restco" in str(failure.event_specific_data.error))
        request = retry_decision(instance, CID)
        assert request.tags["kinvolved/pull_attempt"] == "2" and request.tags["kinvolved/pull_mode"] == "full"
        for attempt in ("2", "3"):
            run = defs.resolve_job_def(PULL_JOB).execute_in_process(run_config=request.run_config,
                                                                    instance=instance,
                                                                    tags=request.tags, raise_on_error=False)
            assert not run.success
            request = retry_decision(instance, CID)
            if attempt == "2":
                assert request.tags["kinvolved/pull_attempt"] == "3"
        assert isinstance(request, SkipReason) and "failed 3 times" in request.skip_message
