"""Correctness: the marts equal the simulator's ground truth exactly, for every student x school, at
every as-of date, over bulk, nightly deltas with retroactive corrections and deletions, a monthly bulk,
withdrawals and transfers — all through the real sensor → Dagster runs → dbt path."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import open_marts

pytestmark = pytest.mark.integration

TRUTH_COLUMNS = "student_sourced_id, school_sourced_id, days_enrolled, days_absent, is_chronically_absent"


def test_marts_equal_truth_at_every_as_of_date(platform, instance, tmp_path):
    from kinvolved_assets.generator.generate import generate

    platform.add_customer("springfield", scale="small", seed=14, generate_deliveries=False)
    outbox = tmp_path / "outbox"
    # Fri 26 Sep (initial bulk, with attendance since the first day of school), Mon-Tue deltas,
    # Wed 1 Oct (monthly bulk), Thu delta.
    gen = generate("springfield", "small", 14, dt.date(2025, 9, 26), 7, outbox, truth=tmp_path / "truth",
                   school_year=2026)
    assert [d.mode for d in gen.deliveries] == ["bulk", "delta", "delta", "bulk", "delta"]
    truth_file = str(gen.truth_path)
    con = duckdb.connect()
    defs = platform.definitions()
    landing = platform.landing("springfield")
    landing.mkdir(parents=True)
    marts_db = platform.warehouse("springfield") / "marts.duckdb"

    for delivery in gen.deliveries:
        shutil.copy(delivery.path, landing / delivery.path.name)
        report = process_landing(defs, instance, "springfield")
        assert [ok for *_, ok in report.ingest_runs] == [True], report.ingest_runs
        assert report.marts_run and report.marts_run[1]
        as_of = delivery.delivery_date.isoformat()
        expected = con.execute(
            f"select {TRUTH_COLUMNS}, attendance_rate from read_parquet(?) where as_of_date = ? order by all",
            [truth_file, as_of]).fetchall()
        assert expected, f"no truth for {as_of}"
        with open_marts(marts_db) as marts:
            got = marts.execute(
                f"select {TRUTH_COLUMNS}, attendance_rate from msr_student_cumulative_attendance order by all"
            ).fetchall()
            assert {r[0] for r in marts.execute("select distinct as_of_date from "
                                                "msr_student_cumulative_attendance").fetchall()} \
                == {delivery.delivery_date}
        assert len(got) == len(expected), f"{as_of}: {len(got)} rows in marts vs {len(expected)} in truth"
        mismatches = [(g, e) for g,
                      e in zip(got, expected, strict=True) if g[:5] != e[:5] or abs(g[5] - e[5]) > 1e-12]
        assert not mismatches, (f"{as_of}: {len(mismatches)} student x school rows differ, "
                                f"e.g. {mismatches[:3]}")

    # the scenario really exercised what it claims
    wh = platform.warehouse("springfield") / "raw"
    q = duckdb.connect()
    deleted = q.execute(f"select count(*) from read_parquet('{wh}/attendance/**/*.parquet') "
                        "where status = 'tobedeleted'").fetchone()[0]
    corrected = q.execute("select count(*) from (select sourcedId from "
                          f"read_parquet('{wh}/attendance/**/*.parquet') "
                          "group by sourcedId having count(distinct absenceCode) > 1)").fetchone()[0]
    withdrawn = q.execute(f"select count(*) from read_parquet('{wh}/enrollments/**/*.parquet') "
                          "where _mode = 'delta' and endDate is not null").fetchone()[0]
    transfers = con.execute("select count(*) from (select student_sourced_id from read_parquet(?) where "
                            "as_of_date = ? "
                            "group by 1 having count(distinct school_sourced_id) > 1)",
                            [truth_file, gen.deliveries[-1].delivery_date.isoformat()]).fetchone()[0]
    assert deleted > 0 and corrected > 0 and withdrawn > 0 and transfers > 0, (deleted, corrected, withdrawn,
                                                                               transfers)
    chronic = con.execute("select avg(is_chronically_absent::int) from read_parquet(?) where as_of_date = ?",
                          [truth_file, gen.deliveries[-1].delivery_date.isoformat()]).fetchone()[0]
    assert 0.03 < chronic < 0.40
