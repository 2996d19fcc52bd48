"""Fixtures of the reliability suite (helpers live in reliability_support.py)."""

from __future__ import annotations

import csv
import io
import shutil
import time
import zipfile

import duckdb
import pytest
from reliability_support import FAULTS, Site, copy_site


@pytest.fixture(scope="session")
def dbt_manifest():
    from kinvolved_assets.defs.marts import prepare_manifest

    return prepare_manifest()


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, dbt_manifest) -> Site:
    """Customer ``acme``: the first 3 deliveries ingested and marts published; the 4th (a delta with
    users, enrollments, demographics and attendance) is landed but not yet ingested. Built once, copied
    by each test that needs it."""
    site = Site(tmp_path_factory.mktemp("baseline")).prepare()
    gen = site.add_customer("acme", seed=7, days=4)
    deliveries = sorted(gen.deliveries, key=lambda d: d.delivery_date)
    assert len(deliveries) == 4, [d.delivery_date for d in deliveries]
    held = site.root / "held"
    held.mkdir()
    last = deliveries[-1]
    shutil.move(str(last.path), held / last.path.name)
    site.run("process", "acme")
    shutil.move(str(held / last.path.name), site.landing("acme") / last.path.name)
    site.last_date = last.delivery_date.isoformat()
    site.last_delivery = last.path.name
    return site


@pytest.fixture
def site(tmp_path, dbt_manifest) -> Site:
    return Site(tmp_path / "site").prepare()


@pytest.fixture(scope="session")
def reference(tmp_path_factory, baseline) -> Site:
    """The baseline plus its 4th delivery and a marts build, uninterrupted: the expected end state."""
    site = copy_site(baseline, tmp_path_factory.mktemp("reference") / "site")
    site.last_date, site.last_delivery = baseline.last_date, baseline.last_delivery
    site.run("ingest", "acme", site.last_date, "--marts")
    from kinvolved_assets.marts.reader import content_digest

    site.digest = content_digest(site.marts("acme"))
    return site



def pytest_terminal_summary(terminalreporter):
    if FAULTS:
        terminalreporter.section("reliability: faults injected")
        for row in FAULTS:
            terminalreporter.write_line(f"- {row['fault']}: {row['observed']}")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory, dbt_manifest) -> dict:
    """A real deployment run once: dagster-daemon + dagster-webserver over a copy of the repo's dagster.yaml.

    * ``big``: 12 weekday deliveries, ingested by one asset backfill launched through the webserver's
      GraphQL API (the UI's *Launch backfill*), tagged ``kinvolved/customer=big``;
    * ``alpha`` / ``beta`` (colliding sourcedIds and school names): 3 deliveries each, picked up by their
      delivery sensors (started through GraphQL once the backfill's first run is launched); alpha also
      gets a malformed delivery;
    * marts of all three launched as ``build_marts`` runs through GraphQL (queued run coordinator).
    """
    import threading

    from dagster import DagsterInstance, RunsFilter
    from reliability_support import Deployment, malformed_delivery, open_duckdb_files, rename_school, wait_for

    from kinvolved_assets.delivery.ingest import ENTITY_NAMES

    site = Site(tmp_path_factory.mktemp("fleet")).prepare()
    started = time.monotonic()
    big = site.add_customer("big", seed=11, days=16)
    assert len(big.deliveries) == 12
    alpha = site.add_customer("alpha", seed=1, days=3)
    beta = site.add_customer("beta", seed=2, days=3)
    with zipfile.ZipFile(alpha.deliveries[0].path) as z:
        school = next(r for r in csv.DictReader(io.StringIO(z.read("orgs.csv").decode())) if r["type"]
                      == "school")
    for delivery in beta.deliveries:
        rename_school(delivery.path, school["name"])
    bad = site.landing("alpha") / "alpha_20250828.zip"
    malformed_delivery(alpha.deliveries[0].path, bad)
    validate = site.cli("validate", str(bad))
    validate_json = site.cli("validate", "--json", "--customer", "alpha", str(bad))

    dep = Deployment(site)
    violations: list[str] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for pid, name in dep.service_pids().items():
                for target in open_duckdb_files(pid):
                    violations.append(f"{name} pid {pid} holds {target}")
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    instance = DagsterInstance.from_config(str(site.dagster_home))
    launched: dict[str, str] = {}
    lock_probe: dict[str, str] = {}
    try:
        dep.start()
        watcher.start()
        dates = [d.delivery_date.isoformat() for d in big.deliveries]
        backfill_id = dep.backfill_assets([["oneroster", e] for e in ENTITY_NAMES],
                                          [f"big|{d}" for d in dates],
                                          {"kinvolved/customer": "big"})
        # the sensors start once the backfill's first run has, so their runs meet the backfill's
        assert wait_for(lambda: bool(instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))),
                        timeout=300, interval=0.5), "the backfill launched no run"
        dep.start_sensor("deliveries__alpha")
        dep.start_sensor("deliveries__beta")

        def finished(customer: str, expected: int) -> bool:
            runs = instance.get_runs(RunsFilter(job_name="ingest_delivery",
                                                tags={"dagster/partition/customer": customer}))
            return len(runs) >= expected and all(r.is_finished for r in runs)

        def backfill_done() -> bool:
            backfill = instance.get_backfill(backfill_id)
            runs = instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))
            return backfill.status.value != "REQUESTED" and all(r.is_finished for r in runs)

        pending = {"alpha": 4, "beta": 3}
        deadline = time.monotonic() + 1500
        while time.monotonic() < deadline and (pending or "big" not in launched):
            for customer in list(pending):
                if finished(customer, pending[customer]):
                    launched[customer] = dep.launch_run("build_marts", customer,
                                                        {"kinvolved/customer": customer})
                    del pending[customer]
            if "big" not in launched and backfill_done():
                launched["big"] = dep.launch_run("build_marts", "big", {"kinvolved/customer": "big"})
            time.sleep(0.5)
        assert (not pending and "big"
                in launched), f"ingest did not finish in time (pending {pending}, {launched})"
        assert wait_for(lambda: all(instance.get_run_by_id(r).is_finished for r in launched.values()),
                        timeout=max(60.0, deadline - time.monotonic()),
                        interval=0.5), "marts runs did not finish"
        # with the daemon and the webserver still up, nobody holds a lock on the published marts
        for customer in ("alpha", "beta", "big"):
            path = site.marts(customer)
            try:
                duckdb.connect(str(path)).close()
                lock_probe[customer] = "write connection ok"
            except Exception as exc:  # noqa: BLE001
                lock_probe[customer] = f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        dep.stop()
    runs = instance.get_runs()
    seconds = time.monotonic() - started
    return {"site": site, "instance": instance, "runs": runs, "backfill_id": backfill_id,
            "marts_runs": launched,
            "violations": violations, "lock_probe": lock_probe, "validate": validate,
            "validate_json": validate_json, "bad_delivery": bad, "seconds": seconds,
            "generated": {"big": big, "alpha": alpha, "beta": beta}, "school_name": school["name"]}
