"""Item 3: `kinvolved ingest` prints where every delivery's date came from (its name, or its arrival
time when the name has none: a guess), and warns when the attendance of a delivery ends long before
its delivery date (an old export copied late looks like a new one)."""

from __future__ import annotations

import datetime as dt
import os
from argparse import Namespace
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration


def test_ingest_prints_every_date_source_and_warns_on_old_attendance(platform, capsys):
    from kinvolved_assets.cli.ingest import cmd_ingest

    # the name-dated case: the personal-data scan
    (delivery,) = platform.add_customer("acme", days=1).deliveries
    arrived = delivery.delivery_date + dt.timedelta(days=30)
    undated = delivery.path.with_name("export.zip")
    delivery.path.rename(undated)
    stamp = dt.datetime.combine(arrived, dt.time(12), tzinfo=ZoneInfo("America/New_York")).timestamp()
    os.utime(undated, (stamp, stamp))

    assert cmd_ingest(Namespace(customer="acme", no_marts=True, full_refresh=False)) == 0
    lines = capsys.readouterr().out.splitlines()
    runs = [ln for ln in lines if ln[:4].isdigit()]
    assert [ln.split()[:2] for ln in runs] == [[arrived.isoformat(), "ok"]], lines
    assert runs[0].endswith("(export.zip: date from the arrival (a guess: no date in the name))"), runs[0]
    warnings = [ln.strip() for ln in lines if ln.startswith("  warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: attendance in export.zip ends "), lines
    assert (f"days before its delivery date {arrived} (date from the arrival); check the delivery "
            "date" in warnings[0])
