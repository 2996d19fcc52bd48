"""Disk full (issue 15, case 4): the customer's warehouse on a small tmpfs the test mounts (CI runs as
root). `kinvolved ingest` prints one clear operator message (never a finding against the district's
file, no traceback), leaves the published marts and no run STARTED, and converges once space is freed."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from reliability_support import BIN, copy_site, record_fault
from test_crash_recovery import _leftovers, _started_runs
from test_delivery_ledger import ledger_rows

from kinvolved_assets.diskspace import delivery_bytes
from kinvolved_assets.marts.reader import content_digest

pytestmark = pytest.mark.reliability


@contextlib.contextmanager
def warehouse_on_tmpfs(site, customer: str, spare: int):
    """Move the customer's warehouse onto a tmpfs with ``spare`` bytes free; yields a resize(bytes)."""
    warehouse = site.warehouse(customer)
    held = site.root / "warehouse-held"
    shutil.move(str(warehouse), held)
    warehouse.mkdir()
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(warehouse)],
                           capture_output=True)
    if probe.returncode != 0:
        shutil.rmtree(warehouse)
        shutil.move(str(held), warehouse)
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.decode().strip()}")
    try:
        for entry in held.iterdir():
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, warehouse / entry.name)
        used = shutil.disk_usage(warehouse).used

        def resize(free: int) -> None:
            size = (used + free + 4095) // 4096 * 4096
            subprocess.run(["mount", "-o", f"remount,size={size}", str(warehouse)], check=True)

        resize(spare)
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(warehouse)], check=False)


def _ingest(site, **env) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(Path(BIN) / "kinvolved"), "ingest", "acme"], env=site.env(**env),
                          cwd=str(site.root),
                          capture_output=True, text=True, timeout=300)
    site.cli_output += [proc.stdout, proc.stderr]
    return proc


def _assert_one_clear_message(proc, before_digest, site, delivery_name):
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    lines = [line for line in text.splitlines() if "no space left under KINVOLVED_HOME" in line]
    assert len(lines) == 1, text
    assert "free" in lines[0] and "Traceback" not in text
    for blame in ("could not be loaded", "IOException", "corrupt ZIP", "BLOCKED"):
        assert blame not in text, text
    assert content_digest(site.marts("acme")) == before_digest
    assert _started_runs(site) == []
    state = {r[2]: r[3] for r in ledger_rows(site)}.get(delivery_name, "landed")
    # "ingesting" when even the ledger could not be written: its pid is gone, the next start retries it
    assert state in ("landed", "failed", "ingesting"), f"a full disk made the delivery {state}"
    return lines[0]


@pytest.mark.parametrize("where", ["preflight", "staging"])
def test_disk_full_gives_one_message_keeps_marts_and_converges(tmp_path, baseline, reference, where):
    site = copy_site(baseline, tmp_path / "site")
    before = content_digest(site.marts("acme"))
    # preflight: 256 KB free, less than the delivery may need (factor 50 x its extracted bytes);
    # staging: the check off, the disk fills up while the delivery is being loaded
    spare = 256 * 1024 if where == "preflight" else 48 * 1024
    env = {"KINVOLVED_DISK_FACTOR": "50" if where == "preflight" else "0"}
    if where == "preflight":
        assert delivery_bytes(site.landing("acme") / baseline.last_delivery) * 50 > spare
    with warehouse_on_tmpfs(site, "acme", spare) as resize:
        proc = _ingest(site, **env)
        line = _assert_one_clear_message(proc, before, site, baseline.last_delivery)
        assert _leftovers(site) == [], "a partial staging or build file was left on the full disk"
        resize(64 * 1024 * 1024)
        again = _ingest(site, **env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert content_digest(site.marts("acme")) == reference.digest
        assert [r[3] for r in ledger_rows(site)] == ["ingested"] * 4
    record_fault(f"warehouse on a tmpfs with {spare // 1024} KB free ({where}), `kinvolved ingest`",
                 f"one line: {line[line.index('no space'):][:90]}…; marts unchanged, no run STARTED; after "
                 "freeing space the same command converges to the uninterrupted marts")
