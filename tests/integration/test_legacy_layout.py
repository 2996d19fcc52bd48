"""A warehouse written before the seq= layout (a delivery's files directly in its date's folder) is
moved into seq= folders by the next writer, once: a re-ingest then replaces the delivery's rows
instead of adding a second copy. Real ingest runs, a real dbt build, the CLI's reingest."""

from __future__ import annotations

import csv
import io
import sqlite3
import stat
import zipfile
from pathlib import Path

import duckdb
import pytest

from kinvolved_assets.delivery.legacy_layout import LegacyLayout, upgrade_layout
from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.paths import CustomerPaths

pytestmark = pytest.mark.integration


def _roots(warehouse: Path) -> list[Path]:
    """Every entity folder of raw/, raw/_files/ and rejects/."""
    raw = warehouse / "raw"
    out = [p for p in raw.iterdir() if p.is_dir() and p.name != "_files"]
    out += [p for p in (raw / "_files").iterdir() if p.is_dir()]
    rejects = warehouse / "rejects"
    return out + ([p for p in rejects.iterdir() if p.is_dir()] if rejects.is_dir() else [])


def make_legacy(warehouse: Path, keep_seq: int | None = None) -> int:
    """Rewrite the tree the way the code before seq= partitions left it: each date's files directly in
    its folder (``keep_seq``: only that delivery's; the others of the date are gone, overwritten).
    Returns how many files were moved up."""
    (warehouse / ".layout-seq").unlink()   # the code before seq= partitions never wrote the marker
    moved = 0
    for root in _roots(warehouse):
        for day in root.glob("delivery_date=*"):
            for seq_dir in sorted(day.glob("seq=*")):
                if keep_seq is None or seq_dir.name == f"seq={keep_seq}":
                    for f in seq_dir.iterdir():
                        f.rename(day / f.name)
                        moved += 1
                for f in seq_dir.iterdir():
                    f.unlink()
                seq_dir.rmdir()
    return moved


def layout(warehouse: Path) -> tuple[list[str], list[str]]:
    """(legacy files, seq folders) of the whole tree, relative to the warehouse."""
    legacy, seqs = [], []
    for root in _roots(warehouse):
        for day in root.glob("delivery_date=*"):
            legacy += [str(f.relative_to(warehouse)) for f in day.iterdir() if f.is_file()]
            seqs += [str(d.relative_to(warehouse)) for d in day.glob("seq=*")]
    return sorted(legacy), sorted(seqs)


def raw_rows(warehouse: Path) -> dict[str, int]:
    with duckdb.connect() as con:
        return {root.name: con.execute("select count(*) from read_parquet(?)",
                                       [str(root / "delivery_date=*" / "**" / "*.parquet")]).fetchone()[0]
                for root in (warehouse / "raw").iterdir() if root.is_dir() and root.name != "_files"}


def test_reingest_of_a_legacy_tree_moves_it_to_seq_folders_without_duplicates(platform, instance, capsys):
    from kinvolved_assets.cli.main import main

    platform.add_customer("acme", days=2)
    defs = platform.definitions()
    report = process_landing(defs, instance, "acme")
    assert [ok for *_, ok in report.ingest_runs] == [True, True] and report.marts_run[1]
    warehouse = platform.warehouse("acme")
    normal_digest, normal_rows, (_, normal_seqs) = (content_digest(warehouse / "marts.duckdb"),
                                                    raw_rows(warehouse), layout(warehouse))
    moved_up = make_legacy(warehouse)
    assert moved_up > 0 and layout(warehouse)[1] == []

    assert main(["reingest", "acme", "1"]) == 0, capsys.readouterr()
    legacy, seqs = layout(warehouse)
    assert legacy == [] and seqs == normal_seqs          # every file back in its delivery's seq= folder
    assert raw_rows(warehouse) == normal_rows             # no delivery's rows twice
    assert content_digest(warehouse / "marts.duckdb") == normal_digest
    log = (platform.home / "logs" / "runs.log").read_text()
    assert f"moved {moved_up} legacy partitions to the seq= layout" in log
    # done once: the next writer finds nothing to move; what it wrote is private like the rest
    assert upgrade_layout(CustomerPaths.for_customer("acme", platform.home)) == 0
    assert stat.S_IMODE((warehouse / ".layout-seq").stat().st_mode) == 0o600
    assert {stat.S_IMODE((warehouse / s).stat().st_mode) for s in seqs} == {0o700}


def _with_correction(platform, instance) -> tuple[str, Path, int]:
    """A nightly and its same-day correction (school names changed), both ingested: (date, warehouse,
    the correction's seq)."""
    generated = platform.add_customer("acme", days=1)
    defs = platform.definitions()
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] == [True]
    nightly = generated.deliveries[0].path
    correction = nightly.with_name(nightly.stem + "_correction.zip")
    with zipfile.ZipFile(nightly) as zin, zipfile.ZipFile(correction, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name).decode()
            if name.endswith("orgs.csv"):
                rows = list(csv.DictReader(io.StringIO(data)))
                for row in rows:
                    row["name"] = row["name"] + " (corrected)" if row["type"] == "school" else row["name"]
                out = io.StringIO()
                writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
                data = out.getvalue()
            zout.writestr(name, data)
    assert [ok for *_, ok in process_landing(defs, instance, "acme", build_marts=False).ingest_runs] == [True]
    warehouse = platform.warehouse("acme")
    with sqlite3.connect(warehouse / "ledger.sqlite") as con:
        last = con.execute("select max(seq) from deliveries where file_name = ?",
                           [correction.name]).fetchone()[0]
    return generated.deliveries[0].delivery_date.isoformat(), warehouse, last


def test_a_date_with_two_deliveries_is_assigned_by_its_files_record_after_a_crash(platform, instance):
    date, warehouse, last = _with_correction(platform, instance)
    _, seqs = layout(warehouse)
    make_legacy(warehouse, keep_seq=last)    # the old layout kept the correction: it overwrote the nightly
    # an upgrade killed after its first rename: the correction's orgs rows already in their seq= folder
    orgs = warehouse / "raw" / "orgs" / f"delivery_date={date}"
    (orgs / f"seq={last}").mkdir()
    (orgs / "part-0.parquet").rename(orgs / f"seq={last}" / "part-0.parquet")
    told: list[str] = []
    paths = CustomerPaths.for_customer("acme", platform.home)
    assert upgrade_layout(paths, told.append) > 0
    legacy, after = layout(warehouse)
    assert legacy == [] and after == sorted(s for s in seqs if s.endswith(f"seq={last}"))
    names = duckdb.sql("select name from "
                       f"read_parquet('{warehouse}/raw/orgs/delivery_date={date}/seq={last}/*.parquet') "
                       "where type = 'school'").fetchall()
    assert names and all(n[0].endswith("(corrected)") for n in names)
    assert len(told) == 1 and told[0].startswith("moved ") \
        and told[0].endswith(" legacy partitions to the seq= layout")
    assert upgrade_layout(paths) == 0


def test_an_undecidable_legacy_folder_is_refused_naming_customer_and_folder(platform, instance):
    date, warehouse, last = _with_correction(platform, instance)
    make_legacy(warehouse, keep_seq=last)
    record = warehouse / "raw" / "_files" / "orgs" / f"delivery_date={date}" / "part-0.parquet"
    duckdb.sql(f"copy (select * replace ('{'0' * 64}' as sha256) from read_parquet('{record}')) "
               f"to '{record}.new' (format parquet)")
    Path(f"{record}.new").replace(record)            # a record matching neither delivery
    before = layout(warehouse)
    with pytest.raises(LegacyLayout) as refused:
        upgrade_layout(CustomerPaths.for_customer("acme", platform.home))
    message = str(refused.value)
    assert message.startswith("customer acme: ") and f"raw/orgs/delivery_date={date} holds files" in message
    assert "2 deliveries of" in message and "seq=<N>" in message
    assert layout(warehouse) == before               # nothing of that date moved

    # a Dagster run of that date (the UI's Materialize, a backfill's run) is refused the same way,
    # before writing
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.local_runner import failure_message, run_ingest

    run = run_ingest(platform.definitions(), instance, delivery_key("acme", date))
    assert not run.success and failure_message(run).startswith("customer acme: "), failure_message(run)
    assert layout(warehouse) == before


def test_a_tree_older_than_the_ledger_records_its_archived_delivery(platform, instance):
    generated = platform.add_customer("acme", days=1)
    process_landing(platform.definitions(), instance, "acme", build_marts=False)
    warehouse = platform.warehouse("acme")
    _, seqs = layout(warehouse)
    make_legacy(warehouse)
    (warehouse / "ledger.sqlite").unlink()
    paths = CustomerPaths.for_customer("acme", platform.home)
    assert upgrade_layout(paths) > 0
    assert layout(warehouse) == ([], seqs)           # seq=1: the archived delivery, now in the ledger
    with sqlite3.connect(warehouse / "ledger.sqlite") as con:
        rows = con.execute("select seq, file_name, state from deliveries").fetchall()
    assert rows == [(1, generated.deliveries[0].path.name, "ingested")]
