"""The marts build plan through real nightly runs: deliveries landed one at a time, each ingested and
its marts built; every build records in its materializations whether it could have started from the
published marts (deltas after the published build) or why it had to be full (the first build, a
monthly bulk, full_refresh). A full_refresh build publishes the same marts as the plan's build."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import pytest
from dagster import AssetKey

from kinvolved_assets.local_runner import process_landing, run_marts
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.paths import CustomerPaths

pytestmark = pytest.mark.integration


def _plan_of_last_build(instance) -> str:
    event = instance.get_latest_materialization_event(AssetKey(["marts", "fct_student_daily_attendance"]))
    return event.asset_materialization.metadata["marts_build_plan"].value


def test_nightly_deltas_are_incremental_candidates_and_bulks_fall_back(platform, instance):
    # 29 Sep - 2 Oct 2025: a bulk (first delivery), a delta, the monthly bulk of 1 October, a delta
    gen = platform.add_customer("acme", start=dt.date(2025, 9, 29), days=4)
    deliveries = sorted(gen.deliveries, key=lambda d: d.delivery_date)
    assert [d.mode for d in deliveries] == ["bulk", "delta", "bulk", "delta"]
    held = platform.home / "held"
    held.mkdir()
    for delivery in deliveries:
        shutil.move(delivery.path, held / delivery.path.name)
    defs = platform.definitions()
    paths = CustomerPaths.for_customer("acme", platform.home)

    plans = []
    for delivery in deliveries:
        shutil.copy2(held / delivery.path.name, paths.landing / delivery.path.name)
        report = process_landing(defs, instance, "acme")
        assert report.marts_run and report.marts_run[1], delivery.delivery_date
        plans.append(_plan_of_last_build(instance))
    # the ledger's arrival sequences (#N) are its own; the dates are the deliveries'
    incremental = r"incremental: 1 delivery\(ies\) after {} #[0-9]+, no bulk"
    assert plans[0] == "full build: no published marts yet"
    assert re.fullmatch(incremental.format("2025-09-29"), plans[1]), plans
    assert plans[2].startswith("full build: a bulk arrived ("), plans
    assert re.fullmatch(incremental.format("2025-10-01"), plans[3]), plans

    published = content_digest(paths.marts_db)
    assert run_marts(defs, instance, "acme").success
    assert re.fullmatch(r"incremental: 0 delivery\(ies\) after 2025-10-02 #[0-9]+, no bulk",
                        _plan_of_last_build(instance))
    result = run_marts(defs, instance, "acme", full_refresh=True)
    assert result.success
    assert _plan_of_last_build(instance) == "full build: full_refresh requested in the run config"
    assert content_digest(paths.marts_db) == published
