"""Crash safety: real child processes SIGKILLed (process group, dbt included) during raw Parquet writes,
during the delivery checks, half-way through promotion, during dbt and just before the publish swap.
After every kill the published marts are the previous ones (same content hash, opened read-only);
re-running the partition then yields marts identical to an uninterrupted run."""

from __future__ import annotations

import signal
import time

import pytest
from reliability_support import (
    cmdline,
    copy_site,
    kill_group,
    marts_digest_via,
    record_fault,
    session_pids,
    tree_digest,
    wait_for,
)

from kinvolved_assets.marts.reader import content_digest, open_marts

pytestmark = pytest.mark.reliability


def _published_state(site):
    marts = site.marts("acme")
    stat = marts.stat()
    return content_digest(marts), (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _no_half_published(site) -> None:
    warehouse = site.warehouse("acme")
    stray = [p.name for p in warehouse.iterdir() if p.name.startswith("marts") and p.name != "marts.duckdb"]
    assert stray == [], f"half-published marts files next to marts.duckdb: {stray}"


def test_sigkill_at_every_stage_keeps_marts_and_rerun_converges(tmp_path, baseline, reference):
    site = copy_site(baseline, tmp_path / "site")
    date = baseline.last_date
    before_digest, before_file = _published_state(site)
    raw_before = tree_digest(site.warehouse("acme") / "raw")

    # ---- ingest killed inside the process at named points ------------------------------------------
    for point in ("raw_write", "checks", "promote"):
        rc, *_ = site.run("ingest", "acme", date, failpoint=point, expect_ok=None)
        assert rc == -signal.SIGKILL, f"{point}: the driver was not killed (rc={rc})"
        digest, published = _published_state(site)
        assert digest == before_digest and published == before_file, point
        _no_half_published(site)
        raw_changed = tree_digest(site.warehouse("acme") / "raw") != raw_before
        if point in ("raw_write", "checks"):
            assert not raw_changed, f"{point}: raw/ changed although nothing was promoted"
        staging = sorted(p.name for p in (site.warehouse("acme") / "staging").glob("*"))
        record_fault(f"SIGKILL ingest at {point}",
                     f"marts digest unchanged, marts.duckdb inode unchanged; raw/ "
                     f"{'partly promoted (some entities of the delivery)' if raw_changed else 'unchanged'}; "
                     f"{len(staging)} staging folder(s) of killed runs left under warehouse/acme/staging")

    # re-run the same partition: replaces every folder of the delivery, whatever a kill left behind
    site.run("ingest", "acme", date)

    # ---- marts run killed from outside while dbt is building ----------------------------------------
    build_dir = site.warehouse("acme") / "build"
    proc = site.start("marts", "acme")
    try:
        building = wait_for(lambda: next(iter(build_dir.glob("marts-*.duckdb")), None), timeout=180)
        assert building is not None, "dbt never started writing the build file"
        time.sleep(1.5)  # well inside dbt build (models and tests)
        assert proc.poll() is None, "the marts run finished before it could be killed"
        # a reader during the build sees the previous marts, without waiting for any lock
        assert content_digest(site.marts("acme")) == before_digest
        dbt_alive = any("dbt build" in cmdline(pid) for pid in session_pids(proc.pid))
    finally:
        kill_group(proc)
    digest, published = _published_state(site)
    assert digest == before_digest and published == before_file
    _no_half_published(site)
    record_fault("SIGKILL marts run (driver + dbt child) 1.5 s after the build file appeared",
                 f"dbt child alive at kill: {dbt_alive}; marts digest and inode unchanged; "
                 f"build file left only under warehouse/acme/build/ (removed by the next build)")

    # ---- killed after a green dbt build, just before the swap ----------------------------------------
    rc, *_ = site.run("marts", "acme", failpoint="publish", expect_ok=None)
    assert rc == -signal.SIGKILL
    digest, published = _published_state(site)
    assert digest == before_digest and published == before_file
    _no_half_published(site)
    leftovers = sorted(p.name for p in build_dir.glob("marts-*.duckdb"))
    assert leftovers, "the finished build should be left aside, unpublished"
    record_fault("SIGKILL after a green dbt build, before os.replace",
                 f"marts unchanged; complete build left aside ({len(leftovers)} file) and never published")

    # ---- the re-run converges to the uninterrupted result; readers keep their snapshot --------------
    reader = open_marts(site.marts("acme"))
    try:
        site.run("marts", "acme")
        assert marts_digest_via(reader) == before_digest, "an open reader saw the marts change under it"
    finally:
        reader.close()
    after_digest, after_file = _published_state(site)
    assert after_digest == reference.digest, "re-run after the kills differs from an uninterrupted run"
    assert after_file[0] != before_file[0], "marts.duckdb was edited in place instead of swapped"
    assert not build_dir.exists() or not list(build_dir.glob("marts-*.duckdb"))
    _no_half_published(site)
    record_fault("re-run of the same partition + marts after all kills",
                 "content digest equal to an uninterrupted run; new inode (atomic swap); a reader opened "
                 "before the swap kept reading the previous marts")

