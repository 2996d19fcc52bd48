"""dbt in the build's process: one parse of the project per process (a partial one, from the prepared
parse state) serves every customer's builds (each with its own vars and build file), the marts equal
those of a build in a fresh process, and a build leaves no dbt target behind (nothing of one build is
read as another's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kinvolved_assets.defs import dbt_in_process
from kinvolved_assets.local_runner import process_landing, run_marts
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.paths import CustomerPaths

pytestmark = pytest.mark.integration


def test_one_parse_serves_every_customer_and_build_of_the_process(platform, instance):
    platform.add_customer("acme", days=3)
    platform.add_customer("zenith", days=4, seed=11)
    defs = platform.definitions()
    for customer in ("acme", "zenith"):
        report = process_landing(defs, instance, customer)
        assert report.marts_run and report.marts_run[1], customer
    parses = list(dbt_in_process.PARSES)
    assert parses and parses[0] == "partial", f"the process's parse of the project: {parses}"
    acme, zenith = (CustomerPaths.for_customer(c, platform.home) for c in ("acme", "zenith"))
    first = {p: content_digest(p.marts_db) for p in (acme, zenith)}
    assert first[acme] != first[zenith], "two districts, two different marts"
    for paths in (acme, zenith):
        assert not paths.build_dir.exists(), "the build folder (and dbt's target in it) is removed"
        assert not paths.dbt_target.exists()

    # other vars (the run config's override), a full refresh, the other customer: no parse, same marts
    assert run_marts(defs, instance, "acme", force_mass_deletion=True).success
    assert run_marts(defs, instance, "zenith", full_refresh=True).success
    assert run_marts(defs, instance, "acme").success
    assert dbt_in_process.PARSES == parses, "a build parsed the project again"
    assert {p: content_digest(p.marts_db) for p in (acme, zenith)} == first


def test_a_build_in_a_fresh_process_publishes_the_same_marts(platform, instance):
    platform.add_customer("acme", days=3)
    defs = platform.definitions()
    assert process_landing(defs, instance, "acme").marts_run[1]
    paths = CustomerPaths.for_customer("acme", platform.home)
    here = content_digest(paths.marts_db)
    paths.dbt_target.mkdir()   # left by a build that kept dbt's parse state: removed by the next build
    (paths.dbt_target / "partial_parse.msgpack").write_bytes(b"stale")
    cli = str(Path(sys.executable).parent / "kinvolved")
    proc = subprocess.run([cli, "ingest", "acme", "--full-refresh"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert content_digest(paths.marts_db) == here
    assert not paths.dbt_target.exists()
    # dbt's lines, written from its worker threads, reach the runs' log whole (a text stream written
    # by two threads at once garbles it, even with bytes of the process's memory)
    log = (platform.home / "logs" / "runs.log").read_bytes()
    assert b"\x00" not in log
    text = log.decode("utf-8")
    assert "Completed successfully" in text and text.count(" START ") >= 90
