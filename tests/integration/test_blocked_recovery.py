"""Recovering from a blocked delivery (issue 15, case 7): a backfill of its date replays the ledger's
accepted delivery, not the newest archived (blocked) one; the fixed delivery sent under the blocked one's
name is ingested, not ignored; the blocked one is then superseded. Real runs, a real dbt build."""

from __future__ import annotations

import sqlite3
import zipfile

import pytest

from kinvolved_assets.local_runner import process_landing
from tests.integration.test_blocked_visibility import _drop_column

pytestmark = pytest.mark.integration


def _ledger(platform) -> list[tuple]:
    with sqlite3.connect(platform.warehouse("acme") / "ledger.sqlite") as con:
        return con.execute("select seq, file_name, state from deliveries order by seq").fetchall()


def test_backfill_replays_the_accepted_delivery_and_a_fixed_delivery_of_the_same_name_is_ingested(
        platform, instance, capsys):
    from kinvolved_assets.cli.main import main

    platform.add_customer("acme", days=1)
    defs = platform.definitions()
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] == [True]
    good = platform.generated["acme"].deliveries[0].path
    date = platform.generated["acme"].deliveries[0].delivery_date.isoformat()
    resent = platform.landing("acme") / f"acme_{date.replace('-', '')}_resent.zip"
    _drop_column(good, resent, "attendance.csv", 5)
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] \
        == [False]
    (good_seq, _, _), (blocked_seq, _, _) = _ledger(platform)

    # the backfill of that date replays what the ledger accepted, though the blocked delivery is archived
    # later
    capsys.readouterr()
    assert main(["backfill", "acme", "--from", date, "--to", date, "--in-process"]) == 0
    out = capsys.readouterr().out
    assert f"{date}  ok" in out and "BLOCKED" not in out and "marts   ok" in out, out
    assert _ledger(platform) == [(good_seq, good.name, "ingested"), (blocked_seq, resent.name, "blocked")]

    # the district fixes the file and sends it again under the same name: new bytes, a new delivery
    with zipfile.ZipFile(good) as zin, \
            zipfile.ZipFile(resent.with_suffix(".tmp"), "w", zipfile.ZIP_STORED) as zout:
        for item in zin.namelist():
            zout.writestr(item, zin.read(item))
    resent.with_suffix(".tmp").replace(resent)
    report = process_landing(defs, instance, "acme", build_marts=False)
    assert [ok for *_, ok in report.ingest_runs] == [True], report.sensor_logs
    rows = _ledger(platform)
    assert [r[1:] for r in rows] == [(good.name, "ingested"), (resent.name, "blocked"),
                                     (resent.name, "ingested")]
    archived = sorted(p.name for p in (platform.home / "archive" / "acme" / date).iterdir()
                      if p.suffix == ".zip")
    assert len(archived) == 3, archived        # the blocked bytes are kept beside the fixed ones

    assert main(["supersede", "acme", str(blocked_seq), "--by", str(rows[2][0])]) == 0
    assert _ledger(platform)[1][2] == "superseded"
