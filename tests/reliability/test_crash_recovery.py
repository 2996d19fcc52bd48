"""Crash recovery (issue 15, case 3): `kinvolved ingest` SIGKILLed while extracting, loading, checking
or building the marts; a plain `kinvolved ingest` afterwards finds the interrupted delivery again,
retries it and converges to the marts of an uninterrupted run. The killed run is marked failed and
what it left (temp extraction folder, staging, build file) is removed."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from reliability_support import REPO, copy_site, kill_group, record_fault, wait_for
from test_delivery_ledger import ledger_rows

from kinvolved_assets.marts.reader import content_digest

pytestmark = pytest.mark.reliability


def cli_instance(site) -> dict:
    """The driver on the instance `kinvolved` commands use (KINVOLVED_HOME/dagster_home)."""
    home = site.home / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(home)):   # storage created once, before processes race for it
            pass
    return {"DAGSTER_HOME": str(home)}


def _started_runs(site) -> list[str]:
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    if not (site.home / "dagster_home").is_dir():
        return []
    with DagsterInstance.from_config(str(site.home / "dagster_home")) as instance:
        return instance.get_run_ids(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]))


def _leftovers(site) -> list[str]:
    found = [p.name for p in (site.home / "tmp").glob("pid-*") if any(p.iterdir())]
    found += [p.name for p in (site.warehouse("acme") / "staging").glob("*")]
    found += [p.name for p in (site.warehouse("acme") / "build").glob("*")]
    found += [p.name for p in (site.home / "archive" / "acme").rglob(".*.tmp-*")]
    return found


@pytest.mark.parametrize("point", ["extract", "raw_write", "checks", "dbt"])
def test_sigkill_then_plain_ingest_converges(tmp_path, baseline, reference, point):
    site = copy_site(baseline, tmp_path / "site")
    before = content_digest(site.marts("acme"))
    if point == "dbt":
        proc = site.start("process", "acme", env=cli_instance(site))
        try:
            building = wait_for(lambda: next(iter((site.warehouse("acme") / "build").glob("marts-*.duckdb")),
                                             None),
                                timeout=240)
            assert building is not None and proc.poll() is None, "dbt never started"
        finally:
            kill_group(proc)
    else:
        rc, *_ = site.run("process", "acme", failpoint=point, expect_ok=None, env=cli_instance(site))
        assert rc == -signal.SIGKILL, f"{point}: the driver was not killed (rc={rc})"
        state = {r[2]: r[3] for r in ledger_rows(site)}[baseline.last_delivery]
        assert state == "ingesting", f"{point}: the ledger should show the killed run's delivery as ingesting"
    assert content_digest(site.marts("acme")) == before, "a kill changed the published marts"
    assert _started_runs(site), "the killed process left no STARTED run (nothing to recover?)"
    if point == "extract":
        assert _leftovers(site), "the kill at extraction left nothing behind (no temp folder?)"

    proc = site.cli("ingest", "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if point != "dbt":
        assert "retrying" in proc.stdout and "no new deliveries" not in proc.stdout, proc.stdout
    assert content_digest(site.marts("acme")) == reference.digest, f"{point}: did not converge"
    assert _started_runs(site) == [], "a run of the killed process is still STARTED"
    assert _leftovers(site) == [], "leftovers of the killed run were not removed"
    rows = ledger_rows(site)
    assert [r[3] for r in rows] == ["ingested"] * 4, rows
    record_fault(f"SIGKILL `kinvolved ingest` at {point}, then a plain `kinvolved ingest`",
                 "the interrupted delivery retried; marts digest equal to an uninterrupted run; the killed "
                 "run marked failed; temp, staging and build leftovers removed")


def test_interrupt_during_the_in_process_dbt_build_ends_the_run_and_keeps_the_marts(tmp_path, baseline,
                                                                                     reference):
    """SIGINT (what a run's termination delivers) while dbt runs inside the build's process: the run
    ends at once as not successful, the published marts stay, and a plain `kinvolved ingest` converges."""
    site = copy_site(baseline, tmp_path / "site")
    before = content_digest(site.marts("acme"))
    proc = site.start("process", "acme", env=cli_instance(site))
    try:
        models = site.warehouse("acme") / "build" / "target" / "run"   # dbt writes each model's SQL there
        running = wait_for(models.is_dir, timeout=240)
        assert running and proc.poll() is None, "dbt never started its models"
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    assert rc != 0, "an interrupted build reported success"
    assert content_digest(site.marts("acme")) == before, "an interrupted build changed the published marts"
    assert _started_runs(site) == [], "the interrupted run is still STARTED"

    proc = site.cli("ingest", "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert content_digest(site.marts("acme")) == reference.digest, "did not converge after the interrupt"
    assert _leftovers(site) == [], "leftovers of the interrupted build were not removed"
    record_fault("SIGINT `kinvolved ingest` while dbt builds in its process, then a plain `kinvolved ingest`",
                 "the run ended at once, not successful; marts unchanged, then equal to an uninterrupted run")
