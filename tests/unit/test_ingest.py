"""``delivery/ingest.py`` on its own (no Dagster, no marts): one generated delivery staged, checked and
promoted all or nothing, recorded in the ledger; a blocking check keeps raw/ as it was."""

from __future__ import annotations

import os

import pytest

from kinvolved_assets.checks import CheckOutcome
from kinvolved_assets.customers import load_customer_configs
from kinvolved_assets.delivery.ingest import (
    AlreadyIngested,
    contract_check,
    ingest_delivery,
    promote,
)
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.delivery.locate import DeliveryNotFound
from kinvolved_assets.oneroster.findings import finding
from kinvolved_assets.oneroster.load import LoadResult
from kinvolved_assets.paths import CustomerPaths, partition_dirs


@pytest.fixture
def acme(platform):
    """One tiny generated customer with two deliveries in landing: (config, paths, [dates])."""
    generated = platform.add_customer("acme", days=2)
    config = load_customer_configs(platform.config_dir, platform.home).customers["acme"]
    dates = sorted(d.delivery_date.isoformat() for d in generated.deliveries)
    return config, CustomerPaths.for_customer("acme", platform.home), dates


def _block(entity_name: str):
    def validator(entity, result, ctx):
        assert ctx.staging_root.is_dir() and set(ctx.results) >= {"attendance", "users"}
        if entity != entity_name:
            return []
        return [CheckOutcome("always_fails", passed=False, blocking=True)]

    return validator


def test_delivery_is_promoted_into_raw_and_recorded(acme):
    config, paths, dates = acme
    outcome = ingest_delivery(config, paths, dates[0], run_id="run-a")
    assert outcome.promoted and not outcome.blocked and outcome.blocking_summary() == ""
    present = [n for n, o in outcome.entities.items() if o.present]
    assert {"orgs", "users", "enrollments", "attendance"} <= set(present)
    for name in present:
        assert [c.name for c in outcome.entities[name].checks] == ["contract"]
        raw, files, _ = partition_dirs(paths.warehouse, name, dates[0], outcome.ledger.seq)
        assert (raw / "part-0.parquet").is_file() and (files / "part-0.parquet").is_file()
    assert not (paths.warehouse / "staging" / "run-a").exists()
    # the process's temp folder goes with the run: only a killed process leaves one for the next start
    assert not (paths.home / "tmp" / f"pid-{os.getpid()}").exists()
    assert outcome.ledger.state == "ingested" and outcome.ledger.rows == sum(
        outcome.entities[n].result.rows for n in present)
    with Ledger(paths) as ledger:
        assert [(d.delivery_date, d.state, d.run_id) for d in ledger.deliveries()] == [(dates[0], "ingested",
                                                                                        "run-a")]

    # an automatic path refuses a settled delivery; an explicit one replays it
    with pytest.raises(AlreadyIngested, match="already ingested by run run-a"):
        ingest_delivery(config, paths, dates[0], run_id="run-b", only_new=True)
    assert ingest_delivery(config, paths, dates[0], run_id="run-c").promoted


def test_blocking_check_keeps_raw_and_quarantines_what_was_read(acme):
    config, paths, dates = acme
    assert ingest_delivery(config, paths, dates[0], run_id="run-a").promoted
    before = sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet"))
    outcome = ingest_delivery(config, paths, dates[1], run_id="run-b", validators=[_block("attendance")])
    assert not outcome.promoted and outcome.blocked
    assert outcome.blocking_summary() == "attendance: always_fails"
    assert sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet")) == before
    quarantined = paths.quarantine / dates[1] / "run-b"
    assert (partition_dirs(quarantined, "attendance", dates[1]).raw / "part-0.parquet").is_file()
    assert outcome.ledger.state == "blocked"


def test_unknown_date_is_not_found(acme):
    config, paths, _ = acme
    with pytest.raises(DeliveryNotFound, match="no delivery dated 2001-01-01"):
        ingest_delivery(config, paths, "2001-01-01", run_id="run-x")


def test_promote_replaces_every_partition_of_the_entity(tmp_path):
    staging, warehouse, day = tmp_path / "staging", tmp_path / "warehouse", "2025-09-05"
    old = partition_dirs(warehouse, "users", day, 3)   # the delivery's own delivery_date=<D>/seq=3
    other = partition_dirs(warehouse, "users", day, 2)  # an earlier delivery of the same date
    other.raw.mkdir(parents=True)
    (other.raw / "kept").write_text("kept")
    for folder in old:
        folder.mkdir(parents=True)
        (folder / "old").write_text("old")
    new = partition_dirs(staging, "users", day)
    for folder in (new.raw, new.files):   # this delivery has no rejects
        folder.mkdir(parents=True)
        (folder / "new").write_text("new")
    promote(staging, warehouse, "users", day, 3)
    assert [sorted(p.name for p in f.iterdir()) for f in (old.raw, old.files)] == [["new"], ["new"]]
    assert not old.rejects.exists() and not new.raw.exists()
    assert [p.name for p in other.raw.iterdir()] == ["kept"]


def test_contract_check_blocks_on_file_errors_only():
    rows = LoadResult("users", rows=10, rejected_rows=1,
                      findings=[finding("row.bad_enum", "x", file="users.csv", line=3, column="role")])
    check = contract_check("users", rows, ())
    assert check.passed and check.blocking and check.metadata["rejected_rows"] == 1
    assert check.metadata["findings_by_rule"] == {"error:row.bad_enum": 1}
    missing = LoadResult("users", findings=[finding("header.missing_required_column", "x", file="users.csv")])
    assert not contract_check("users", missing, ()).passed
    assert not contract_check("users", LoadResult("users"), [finding("delivery.bad_zip", "x")]).passed


def test_process_tmp_is_removed_by_its_last_caller(tmp_path):
    import tempfile

    from kinvolved_assets.delivery.recovery import process_tmp

    with process_tmp(tmp_path) as outer:
        with process_tmp(tmp_path) as inner:
            assert inner == outer and tempfile.gettempdir() == str(outer)
            (inner / "spill").write_text("x")
        assert outer.is_dir()   # the outer caller still uses it
    assert not outer.exists() and tempfile.gettempdir() != str(outer)


def test_a_normal_run_leaves_nothing_for_recovery(acme):
    from kinvolved_assets.delivery.recovery import recover_customer

    config, paths, dates = acme
    assert ingest_delivery(config, paths, dates[0], run_id="run-a").promoted
    found = recover_customer(paths)
    assert found.removed == [] and found.interrupted == [] and found.summary() == ""
    # the archive holds date folders only (copies are made in .incoming, gone once renamed into place)
    assert [p.name for p in paths.archive.iterdir()] == [dates[0]]


def test_identical_bytes_under_a_second_date_are_one_delivery(acme):
    """Two nightly deltas with the same bytes (e.g. two empty ones): the second date is refused with a
    message naming the first, nothing is written, and the ledger keeps one entry (the sensor skips
    such a copy the same way)."""
    config, paths, dates = acme
    assert ingest_delivery(config, paths, dates[1], run_id="run-a").promoted
    first = next(p for p in paths.landing.iterdir() if dates[1].replace("-", "") in p.name)
    later = "2025-12-15"
    copy = paths.landing / first.name.replace(dates[1].replace("-", ""), later.replace("-", ""))
    copy.write_bytes(first.read_bytes())
    before = sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet"))
    with pytest.raises(AlreadyIngested, match=f"the delivery of {later} has the same bytes as delivery "
                                              f"{first.name} \\({dates[1]} #1"):
        ingest_delivery(config, paths, later, run_id="run-b", delivery_hint=str(copy))
    assert sorted(p.relative_to(paths.raw) for p in paths.raw.rglob("*.parquet")) == before
    with Ledger(paths) as ledger:
        assert [(d.delivery_date, d.state) for d in ledger.deliveries()] == [(dates[1], "ingested")]


def test_a_folder_delivery_is_hashed_once_and_its_files_record_their_own_bytes(platform, monkeypatch):
    """A folder delivery: each file is hashed while it is archived, and the reader takes those hashes
    instead of reading the files again; the sha256 recorded per file is the one of its bytes."""
    import hashlib

    import duckdb

    from kinvolved_assets.oneroster import discover

    generated = platform.add_customer("acme", days=1, fmt="loose")
    config = load_customer_configs(platform.config_dir, platform.home).customers["acme"]
    paths = CustomerPaths.for_customer("acme", platform.home)
    date = generated.deliveries[0].delivery_date.isoformat()
    hashed = []
    real = discover.file_sha256
    monkeypatch.setattr(discover, "file_sha256", lambda p: hashed.append(p) or real(p))
    outcome = ingest_delivery(config, paths, date, run_id="run-a")
    assert outcome.promoted and outcome.delivery_path.is_dir()
    assert hashed == [], "the reader hashed files the archive had just hashed"
    files = list(paths.warehouse.glob(f"raw/_files/*/delivery_date={date}/**/*.parquet"))
    with duckdb.connect() as con:
        recorded = dict(con.execute("select file_name, sha256 from read_parquet(?)",
                                    [[str(f) for f in files]]).fetchall())
    assert recorded and all(
        digest == hashlib.sha256((outcome.delivery_path / name).read_bytes()).hexdigest()
        for name, digest in recorded.items()), recorded

    # a known hash whose size no longer matches the file is not trusted: the file is hashed again
    from kinvolved_assets.oneroster.delivery_files import DeliveryLimits

    name = sorted(recorded)[0]
    stale = {f.name: (1, "0" * 64) if f.name == name else (f.stat().st_size, real(f)[1])
             for f in outcome.delivery_path.iterdir()}
    hashed.clear()
    disc = discover.scan_folder(outcome.delivery_path, DeliveryLimits(), stale)
    assert [p.name for p in hashed] == [name] and disc.file_hashes[name][1] == recorded[name]
