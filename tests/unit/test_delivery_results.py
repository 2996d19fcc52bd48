"""``defs/raw_assets.delivery_results``: what one delivery reports to Dagster, in order (no run)."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetCheckSeverity, MarkdownMetadataValue, PathMetadataValue

from kinvolved_assets.checks import CheckOutcome
from kinvolved_assets.defs.keys import raw_asset_key
from kinvolved_assets.defs.raw_assets import delivery_results
from kinvolved_assets.delivery.ingest import DeliveryOutcome, EntityOutcome
from kinvolved_assets.oneroster.load import LoadResult

CHECKS = ("contract", "expectations")


def _delivery(promoted: bool) -> DeliveryOutcome:
    users = EntityOutcome("users",
                          LoadResult("users", file_name="users.csv", sha256="a" * 64, mode="bulk", rows=12),
                          [CheckOutcome("contract", True, True, {"rows": 12}, "contract"),
                           CheckOutcome("expectations", promoted, not promoted, {"failures_md": "| x |",
                                                                                  "report_path": "/r.html"})])
    orgs = EntityOutcome("orgs", LoadResult("orgs", rows=3), [CheckOutcome("contract", True, True)])
    return DeliveryOutcome("acme", "2025-09-05", Path("/landing/acme_20250905.zip"), "f" * 64, [],
                           {"users": users, "orgs": orgs}, promoted, 0.1, other_version_entities=["roles"])


def test_promoted_delivery_materializes_then_checks_every_entity():
    results = list(delivery_results(_delivery(True), CHECKS))
    order = [(kind, fields["asset_key"].path[-1], fields.get("check_name")) for kind, fields in results]
    assert order == [
        ("materialization", "users", None), ("check", "users", "contract"),
        ("check", "users", "expectations"),
        ("materialization", "orgs", None), ("check", "orgs", "contract"), ("check", "orgs", "expectations"),
        ("materialization", "roles", None), ("check", "roles", "contract"),
        ("check", "roles", "expectations"),
    ]
    meta = results[0][1]["metadata"]
    assert results[0][1]["asset_key"] == raw_asset_key("users")
    assert (meta["present"], meta["rows"].value, meta["mode"], meta["file_name"], meta["delivery_file"]) == (
        True, 12, "bulk", "users.csv", "acme_20250905.zip")
    roles = results[6][1]["metadata"]
    assert roles["present"] is False and roles["mode"] == "absent"
    skipped = results[5][1]                   # orgs ran no expectations: passes as WARN, marked skipped
    assert (skipped["passed"] and skipped["severity"] == AssetCheckSeverity.WARN and "skipped"
            in skipped["metadata"])
    contract = results[1][1]
    assert contract["severity"] == AssetCheckSeverity.ERROR and contract["metadata"] == {"rows": 12}


def test_blocked_delivery_reports_checks_only_with_typed_metadata():
    results = list(delivery_results(_delivery(False), CHECKS))
    assert {kind for kind, _ in results} == {"check"} and len(results) == 3 * len(CHECKS)
    failed = [f for _, f in results if not f["passed"]]
    assert [(f["asset_key"], f["check_name"], f["severity"]) for f in failed] == [
        (raw_asset_key("users"), "expectations", AssetCheckSeverity.ERROR)]
    meta = failed[0]["metadata"]
    assert isinstance(meta["failures_md"], MarkdownMetadataValue) and isinstance(meta["report_path"],
                                                                                 PathMetadataValue)
