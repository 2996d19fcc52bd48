"""Every path at once on one customer (issue 15, case 5): `kinvolved ingest`, `kinvolved backfill
--in-process` and the sensor's runs (the daemon's way) started together. The writer lock serializes
them: nothing is lost, nothing duplicated, no run deletes another's staging or build, and the marts
equal a sequential run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from reliability_support import BIN, DRIVER, PYTHON, copy_site, record_fault
from test_crash_recovery import _leftovers, _started_runs, cli_instance
from test_delivery_ledger import ledger_rows

from kinvolved_assets.marts.reader import content_digest

pytestmark = pytest.mark.reliability


def test_ingest_backfill_and_sensor_at_once_lose_and_duplicate_nothing(tmp_path, baseline, reference):
    site = copy_site(baseline, tmp_path / "site")
    first = min(p.name for p in (site.home / "archive" / "acme").iterdir())
    commands = {
        "ingest": [str(Path(BIN) / "kinvolved"), "ingest", "acme"],
        "backfill": [str(Path(BIN) / "kinvolved"), "backfill", "acme", "--from", first, "--to", "2026-06-30",
                     "--in-process"],
        "sensor": [PYTHON, str(DRIVER), "sensor-runs", "acme", "--marts"],
    }
    procs = {name: subprocess.Popen(cmd, env=site.env(**cli_instance(site)), cwd=str(site.root),
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for name, cmd in commands.items()}
    outputs = {name: proc.communicate(timeout=600) for name, proc in procs.items()}
    text = {name: out + err for name, (out, err) in outputs.items()}
    assert procs["ingest"].returncode == 0, text["ingest"]
    assert procs["backfill"].returncode == 0, text["backfill"]
    # the sensor's run either did the new delivery or found it done by another path and said so
    assert procs["sensor"].returncode == 0 or "already ingested" in text["sensor"], text["sensor"]

    rows = ledger_rows(site)
    assert len(rows) == 4 and all(r[3] == "ingested" for r in rows), rows
    archived = sorted(p.name for p in (site.home / "archive" / "acme").rglob("*.zip"))
    assert len(archived) == 4, archived
    assert _leftovers(site) == [] and _started_runs(site) == []
    final = site.cli("ingest", "acme")   # whatever order they finished in, the marts are current
    assert final.returncode == 0, final.stdout + final.stderr
    assert content_digest(site.marts("acme")) == reference.digest
    waited = sum("waiting for it to finish" in t for t in text.values())
    record_fault("`kinvolved ingest` + `kinvolved backfill --in-process` + sensor runs on one customer at "
                 "once",
                 f"4 deliveries ingested, 4 archived, no leftovers; {waited} caller(s) waited for the writer "
                 "lock; marts digest equal to the sequential run")
