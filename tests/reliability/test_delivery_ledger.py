"""The delivery ledger is the one answer to "was this ingested?" for every path (issue 15, cases 1, 2):
the daemon's sensor runs and `kinvolved ingest` ask the same record, and re-copied deliveries are skipped
with a message naming them. Real child processes against a persistent Dagster instance."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from reliability_support import copy_site, record_fault

from kinvolved_assets.marts.reader import content_digest

pytestmark = pytest.mark.reliability


def ledger_rows(site, customer="acme"):
    con = sqlite3.connect(site.warehouse(customer) / "ledger.sqlite")
    try:
        return con.execute("select delivery_date, seq, file_name, state, attempts, date_source "
                           "from deliveries order by delivery_date, seq").fetchall()
    finally:
        con.close()


def test_cli_ingest_after_sensor_runs_ingests_nothing_again(tmp_path, baseline, reference):
    """Case 1: runs started by the sensor (tagged dagster/run_key, the daemon's way) and `kinvolved
    ingest` (its own cursor) see the same ledger: the CLI re-ingests none of the sensor's deliveries."""
    site = copy_site(baseline, tmp_path / "site")
    rc, summary, out, err = site.run("sensor-runs", "acme", "--marts")
    assert [d for d, _, ok in summary["ingest_runs"] if ok] == [baseline.last_date], summary
    assert content_digest(site.marts("acme")) == reference.digest
    before = ledger_rows(site)
    assert [(r[3], r[4]) for r in before] == [("ingested", 1)] * 4, before

    proc = site.cli("ingest", "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before_message = proc.stdout.split("no new deliveries")[0].split("\n", 1)[-1]
    assert "no new deliveries" in proc.stdout and " run " not in before_message
    assert ledger_rows(site) == before, "the CLI ingested a delivery the sensor had already ingested"
    assert content_digest(site.marts("acme")) == reference.digest
    record_fault("sensor runs (dagster/run_key) then `kinvolved ingest` with its own cursor",
                 "0 deliveries ingested again; ledger unchanged (4 ingested, 1 attempt each); marts digest "
                 "equal")


def test_recopied_deliveries_are_skipped_with_a_message_naming_them(tmp_path, baseline, reference):
    """Case 2: deliveries already ingested, copied back under other names next to a new one: only the new
    one is ingested; each copy is named in a skip message."""
    site = copy_site(baseline, tmp_path / "site")
    landing = site.landing("acme")
    ingested = sorted(p for p in landing.glob("*.zip") if p.name != baseline.last_delivery)
    assert len(ingested) == 3
    copies = []
    for delivery in ingested:
        copy = landing / f"recopied_{delivery.name}"
        shutil.copyfile(delivery, copy)
        copies.append(copy.name)
        delivery.unlink()   # the district's tool cleaned the folder and sent the old files again
    proc = site.cli("ingest", "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = [line for line in proc.stdout.splitlines() if line.startswith("20") and " run " in line]
    assert len(runs) == 1 and runs[0].startswith(baseline.last_date), proc.stdout
    for name in copies:
        assert f"skipped {name}: the same bytes were delivered before" in proc.stdout, proc.stdout
    assert content_digest(site.marts("acme")) == reference.digest
    rows = ledger_rows(site)
    assert len(rows) == 4 and all(r[3] == "ingested" and r[4] == 1 for r in rows), rows
    assert {r[5] for r in rows} == {"name"}
    record_fault("3 ingested deliveries re-copied under new names beside 1 new delivery, then "
                 "`kinvolved ingest`",
                 "1 delivery ingested; 3 skip messages naming the copies; marts digest equal to the "
                 "reference")
