"""Partial parsing across marts builds: a customer's builds keep dbt's parse state in
``warehouse/<customer>/dbt_target`` (the same vars and profile build after build), so a build after
the first parses nothing and publishes the same marts; new vars parse once, then not again."""

from __future__ import annotations

import pytest

from kinvolved_assets.local_runner import process_landing, run_marts
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.paths import CustomerPaths

pytestmark = pytest.mark.integration


def _parse_state(paths: CustomerPaths) -> bytes:
    """dbt rewrites partial_parse.msgpack (with a new invocation id and time) whenever it parses."""
    return (paths.dbt_target / "partial_parse.msgpack").read_bytes()


def test_builds_after_the_first_do_not_parse_and_publish_the_same_marts(platform, instance):
    platform.add_customer("acme", days=3)
    defs = platform.definitions()
    report = process_landing(defs, instance, "acme")
    assert report.marts_run and report.marts_run[1]
    paths = CustomerPaths.for_customer("acme", platform.home)
    assert [p.name for p in paths.dbt_target.iterdir()] == ["partial_parse.msgpack"], \
        "logs and results are dropped"
    assert not paths.build_dir.exists(), "the build folder is removed after the publish"
    first, state = content_digest(paths.marts_db), _parse_state(paths)

    assert run_marts(defs, instance, "acme").success
    assert _parse_state(paths) == state, "the second build parsed the project again"
    assert content_digest(paths.marts_db) == first
    assert not paths.build_dir.exists()

    # the run config's override is a var of the build: the first build with it parses, the next not
    assert run_marts(defs, instance, "acme", force_mass_deletion=True).success
    forced = _parse_state(paths)
    assert forced != state, "new vars: a full parse"
    assert run_marts(defs, instance, "acme", force_mass_deletion=True).success
    assert _parse_state(paths) == forced
    assert content_digest(paths.marts_db) == first
