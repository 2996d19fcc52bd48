"""``defs/backlog``: which deliveries a backlog run takes, in which order, and one real run of the job
(ingest only: no marts build)."""

from __future__ import annotations

import pytest
from dagster import DagsterEventType, Failure

from kinvolved_assets.checks import CheckOutcome
from kinvolved_assets.customers import load_customer_configs
from kinvolved_assets.definitions import build_definitions
from kinvolved_assets.defs.backlog import BacklogConfig, backlog_items
from kinvolved_assets.defs.keys import BACKLOG_OP, raw_asset_key
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.local_runner import run_backlog
from kinvolved_assets.paths import CustomerPaths


@pytest.fixture
def acme(platform):
    generated = platform.add_customer("acme", days=3)
    config = load_customer_configs(platform.config_dir, platform.home).customers["acme"]
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
    return platform, config, CustomerPaths.for_customer("acme", platform.home), dates


def _blocks(entity, result, ctx):
    return [CheckOutcome("always_fails", passed=False, blocking=True)] if entity == "attendance" else []


def test_items_follow_the_ledger_and_skip_what_it_refused(acme):
    platform, config, paths, dates = acme
    first = ingest_delivery(config, paths, dates[0], run_id="r0")
    assert not ingest_delivery(config, paths, dates[1], run_id="r1", validators=[_blocks]).promoted
    # no dates: the ledger's accepted deliveries, then dates it does not know; the blocked one is not replayed
    assert backlog_items(BacklogConfig(), config, paths, platform.home) == [
        (dates[0], None, first.delivery_sha256), (dates[2], None, None)]
    # explicit dates: each once, in date order, with its delivery
    chosen = BacklogConfig(dates=[dates[2], dates[0], dates[2]], delivery_files=["c.zip", "a.zip", "c.zip"])
    assert backlog_items(chosen, config, paths, platform.home) == [(dates[0], "a.zip", None),
                                                                   (dates[2], "c.zip", None)]
    with pytest.raises(Failure, match="config delivery_files has 1 entries for 2 dates"):
        backlog_items(BacklogConfig(dates=dates[:2], delivery_files=["a.zip"]), config, paths, platform.home)
    with pytest.raises(Failure, match="config deliveries has 1 entries for 2 dates"):
        backlog_items(BacklogConfig(dates=dates[:2], deliveries=["f" * 64]), config, paths, platform.home)


def test_one_run_ingests_every_delivery_as_its_own_partition(acme, instance):
    platform, config, paths, dates = acme
    defs = build_definitions(platform.config_dir, platform.home, settle_seconds=0)
    result = run_backlog(defs, instance, "acme", {"ops": {BACKLOG_OP: {"config": {"only_new": True}}}})
    assert result.success and result.output_for_node(BACKLOG_OP) == len(dates)
    assert instance.get_materialized_partitions(raw_asset_key("attendance")) == {f"acme|{d}" for d in dates}
    checks = [r.event_log_entry.dagster_event.event_specific_data for r in instance.get_records_for_run(
        result.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000).records]
    assert {c.check_name for c in checks} == {"contract", "expectations"} and all(c.passed for c in checks)
    with Ledger(paths) as ledger:
        assert [(d.delivery_date, d.state) for d in ledger.deliveries()] == [(d, "ingested") for d in dates]
    # the sensor's backlog (only_new) finds nothing left to do
    again = run_backlog(defs, instance, "acme",
                        {"ops": {BACKLOG_OP: {"config": {"only_new": True, "dates": dates}}}})
    assert again.success and again.output_for_node(BACKLOG_OP) == 0
