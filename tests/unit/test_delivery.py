"""Landing-folder logic of the delivery sensor, against real folders and files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.defs.sensors import evaluate_landing
from kinvolved_assets.delivery.landing import (
    DeliveryChanged,
    archive_delivery,
    date_from_name,
    delivery_sha256,
    find_archived,
    find_deliveries,
    incomplete_reason,
)
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.delivery.locate import DeliveryNotFound, locate_delivery
from kinvolved_assets.delivery.lock import CustomerBusy, customer_lock, is_locked
from kinvolved_assets.paths import CustomerPaths

CUSTOMER = CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=2026)


def make_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def tick(landing, cursor, settle=0.0, now=None):
    requests, logs, new_cursor = evaluate_landing(CUSTOMER, landing, cursor, settle, now=now)
    # the cursor must survive a JSON round trip (it is stored by Dagster as a string)
    return requests, logs, json.loads(json.dumps(new_cursor))


@pytest.mark.parametrize(
    "name, expected",
    [("acme_20250902.zip", "2025-09-02"), ("oneroster-2025-09-02", "2025-09-02"),
     ("users_2025_09_02.csv", "2025-09-02"),
     ("attendance_1034.csv", None), ("delivery_20251341.zip", None), ("x120250902.zip", None)],
)
def test_date_from_name(name, expected):
    assert date_from_name(name) == expected


def test_new_delivery_then_same_delivery_again(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    make_zip(landing / "acme_20250902.zip", {"orgs.csv": "sourcedId\n1\n"})
    requests, _, cursor = tick(landing, {})
    assert len(requests) == 1
    assert requests[0]["partition_key"].keys_by_dimension == {"customer": "acme", "date": "2025-09-02"}
    assert requests[0]["run_key"] == f"acme:{requests[0]['sha']}"
    again, _, cursor = tick(landing, cursor)
    assert again == []
    # the same bytes under another name: a new candidate, but the same run key (Dagster dedups on it)
    (landing / "acme_20250902.zip").rename(landing / "resent_20250902.zip")
    resent, _, _ = tick(landing, cursor)
    assert [r["run_key"] for r in resent] == [requests[0]["run_key"]]


def test_partial_zip_waits_then_runs_when_complete(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    full = make_zip(tmp_path / "full.zip", {"orgs.csv": "sourcedId\n1\n" * 100})
    data = full.read_bytes()
    target = landing / "acme_20250903.zip"
    target.write_bytes(data[: len(data) // 2])
    requests, logs, cursor = tick(landing, {})
    assert requests == [] and any("does not open" in line for line in logs)
    target.write_bytes(data)
    requests, _, cursor = tick(landing, cursor)
    assert len(requests) == 1


def test_growing_file_waits_for_a_stable_signature(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    folder = landing / "acme_20250904"
    folder.mkdir()
    (folder / "orgs.csv").write_text("sourcedId\n1\n")
    now = time.time()
    requests, logs, cursor = tick(landing, {}, settle=3600, now=now)
    assert requests == [] and "still changing" in logs[0]
    with open(folder / "orgs.csv", "a") as handle:
        handle.write("2\n")
    requests, _, cursor = tick(landing, cursor, settle=3600, now=now + 30)
    assert requests == []
    requests, _, cursor = tick(landing, cursor, settle=3600, now=now + 60)
    assert len(requests) == 1, "unchanged across two ticks means complete"


def test_empty_and_partial_names_are_skipped(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "acme_20250905.zip").write_bytes(b"")
    (landing / "acme_20250906.zip.part").write_bytes(b"PK")
    (landing / ".hidden.zip").write_bytes(b"PK")
    requests, logs, cursor = tick(landing, {})
    assert requests == []
    assert any("skipped acme_20250905.zip: empty" in line for line in logs)
    assert tick(landing, cursor)[1] == [], "a skipped empty delivery is logged once"


def test_loose_csvs_grouped_by_date(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "orgs_20250908.csv").write_text("sourcedId\n1\n")
    (landing / "users_20250908.csv").write_text("sourcedId\n2\n")
    (landing / "orgs_20250909.csv").write_text("sourcedId\n3\n")
    deliveries = find_deliveries(landing, CUSTOMER.tz)
    assert [(d.kind, d.delivery_date, len(d.paths)) for d in deliveries] == [
        ("loose", "2025-09-08", 2), ("loose", "2025-09-09", 1)]
    requests, _, _ = tick(landing, {})
    assert [r["delivery"] for r in requests] == ["loose_2025-09-08", "loose_2025-09-09"]


def test_restart_resends_nothing_and_loses_nothing(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    make_zip(landing / "acme_20250910.zip", {"orgs.csv": "a\n"})
    _, _, cursor = tick(landing, {})
    stored = json.dumps(cursor)  # what a daemon restart gets back
    make_zip(landing / "acme_20250911.zip", {"orgs.csv": "b\n"})
    requests, _, _ = tick(landing, json.loads(stored))
    assert [r["delivery"] for r in requests] == ["acme_20250911.zip"]


def test_archive_is_idempotent_and_never_overwrites(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    paths = CustomerPaths.for_customer("acme", tmp_path)
    make_zip(landing / "acme_20250912.zip", {"orgs.csv": "a\n"})
    delivery = find_deliveries(landing, CUSTOMER.tz)[0]
    assert incomplete_reason(delivery) is None
    sha = delivery_sha256(delivery)
    first = archive_delivery(delivery, paths, sha)
    assert archive_delivery(delivery, paths, sha) == first
    os.remove(landing / "acme_20250912.zip")
    make_zip(landing / "acme_20250912.zip", {"orgs.csv": "corrected\n"})
    landed2 = find_deliveries(landing, CUSTOMER.tz)[0]
    second = archive_delivery(landed2, paths, delivery_sha256(landed2))
    assert second != first and first.exists() and second.exists()
    assert find_archived(paths, "2025-09-12", sha) == first
    assert (first.parent / (first.name + ".sha256")).read_text().startswith(sha)



@pytest.mark.parametrize("kind", ["zip", "folder"])
def test_bytes_changed_after_the_sensor_hashed_them_are_never_archived_or_ingested(tmp_path, kind):
    """The run trusts the sensor's sha256 only for the bytes it copies into the archive, hashed while
    they are copied (one read): a delivery rewritten in between is refused and nothing is archived."""
    paths = CustomerPaths.for_customer("acme", tmp_path)
    landing = paths.landing
    landing.mkdir(parents=True)
    name = "acme_20250913.zip" if kind == "zip" else "acme_20250913"
    if kind == "zip":
        make_zip(landing / name, {"orgs.csv": "a\n"})
    else:
        (landing / name).mkdir()
        (landing / name / "orgs.csv").write_text("a\n")
    sensor_sha = delivery_sha256(find_deliveries(landing, CUSTOMER.tz)[0])
    if kind == "zip":   # rewritten after the sensor's tick
        make_zip(landing / name, {"orgs.csv": "rewritten\n"})
    else:
        (landing / name / "orgs.csv").write_text("rewritten\n")
    changed = find_deliveries(landing, CUSTOMER.tz)[0]
    with pytest.raises(DeliveryChanged, match=sensor_sha[:12]):
        archive_delivery(changed, paths, sensor_sha)
    assert find_archived(paths, "2025-09-13") is None
    day_dir = paths.archive_partition("2025-09-13")
    assert not day_dir.exists() or not any(day_dir.iterdir())
    with pytest.raises(DeliveryNotFound, match="neither archived nor in"):
        locate_delivery(CUSTOMER, paths, "2025-09-13", delivery_hint=name, sha256=sensor_sha)
    # the bytes as they are now: archived once, their own sha256 recorded
    located = locate_delivery(CUSTOMER, paths, "2025-09-13", delivery_hint=name,
                              sha256=delivery_sha256(changed))
    assert located.sha256 == delivery_sha256(changed) != sensor_sha
    assert find_archived(paths, "2025-09-13", located.sha256) == located.path

# ---- the delivery ledger: one answer for every path ------------------------------------------------

def ledger_tick(landing, paths, cursor, is_active=None):
    with Ledger(paths) as ledger:
        requests, logs, new_cursor = evaluate_landing(CUSTOMER, landing, cursor, 0.0, ledger=ledger,
                                                      is_active=is_active)
    return requests, logs, json.loads(json.dumps(new_cursor))


def test_ledger_records_arrival_order_states_and_date_source(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    with Ledger(paths) as ledger:
        b = ledger.register("b" * 64, "acme_20250902.zip", "2025-09-02", "name")
        a = ledger.register("a" * 64, "export.zip", "2025-09-01", "arrival")
        assert ledger.register("b" * 64, "copy.zip", "2025-09-09", "name") == b, "same bytes, same delivery"
        assert (b.seq, a.seq, b.state, b.attempts) == (1, 2, "landed", 0)
        assert [d.file_name for d in ledger.deliveries()] == ["export.zip", "acme_20250902.zip"]
        started = ledger.start(a.sha256, "run-1")
        assert (started.state, started.run_id, started.pid, started.attempts) == ("ingesting", "run-1",
                                                                                  os.getpid(), 1)
        done = ledger.finish(a.sha256, "ingested", rows=10, errors=0, warnings=2)
        assert (done.state, done.rows, done.warnings, done.pid) == ("ingested", 10, 2, None)
        assert [d.seq for d in ledger.find("2")] == [2]
        assert [d.seq for d in ledger.find("export.zip")] == [2]
        assert [d.seq for d in ledger.find("aaaaaaaa")] == [2]
        assert ledger.find("zz") == []
        assert [d.seq for d in ledger.accepted_between("2025-09-01", "2025-09-30")] == [2]


def test_ledger_marks_deliveries_of_dead_processes_failed(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()   # a pid that is gone
    with Ledger(paths) as ledger:
        ledger.register("c" * 64, "x_20250903.zip", "2025-09-03", "name")
        ledger.start("c" * 64, "run-dead")
        ledger._con.execute("update deliveries set pid = ?", (child.pid,))
        assert [d.run_id for d in ledger.fail_interrupted()] == ["run-dead"]
        entry = ledger.get("c" * 64)
        assert entry.state == "failed" and "interrupted" in entry.note


def test_sensor_skips_recopied_bytes_naming_them_and_retries_failed(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    paths = CustomerPaths.for_customer("acme", tmp_path)
    make_zip(landing / "acme_20250902.zip", {"orgs.csv": "sourcedId\n1\n"})
    requests, _, cursor = ledger_tick(landing, paths, {})
    sha = requests[0]["sha"]
    assert requests[0]["run_key"] == f"acme:{sha}" and requests[0]["date_source"] == "name"
    assert ledger_tick(landing, paths, cursor)[0] == [], "requested moments ago by this live process"
    with Ledger(paths) as ledger:
        ledger.start(sha, "run-1")
        ledger.finish(sha, "failed", note="OSError: boom")
    retry, logs, cursor = ledger_tick(landing, paths, cursor)
    assert [r["run_key"] for r in retry] == [f"acme:{sha}:retry-1"]
    assert logs == ["retrying acme_20250902.zip (failed: OSError: boom)"]
    assert ledger_tick(landing, paths, cursor, is_active=lambda d: True)[0] == [], "its run is queued"
    with Ledger(paths) as ledger:
        ledger.start(sha, "run-2")
        ledger.finish(sha, "ingested")
    assert ledger_tick(landing, paths, cursor)[0] == []
    shutil.copyfile(landing / "acme_20250902.zip", landing / "resent.zip")
    requests, logs, _ = ledger_tick(landing, paths, cursor)
    assert requests == []
    assert logs == ["skipped resent.zip: the same bytes were delivered before as acme_20250902.zip "
                    "(2025-09-02 #1, ingested)"]


def test_delivery_date_source_is_the_name_or_the_arrival(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    make_zip(landing / "acme_20250902.zip", {"orgs.csv": "a\n"})
    make_zip(landing / "export.zip", {"orgs.csv": "b\n"})
    found = {d.name: d.date_source for d in find_deliveries(landing, CUSTOMER.tz)}
    assert found == {"acme_20250902.zip": "name", "export.zip": "arrival"}


def test_delivery_date_from_the_manifest_when_the_name_has_none(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    manifest = "propertyName,value\noneroster.version,1.1\ndelivery.date,{}\n"
    make_zip(landing / "export.zip", {"manifest.csv": manifest.format("2025-09-03"), "orgs.csv": "a\n"})
    make_zip(landing / "nested.zip",
             {"export/manifest.csv": manifest.format("2025-09-04"), "export/orgs.csv": "b\n"})
    make_zip(landing / "acme_20250902.zip",
             {"manifest.csv": manifest.format("2025-09-05"), "orgs.csv": "c\n"})
    make_zip(landing / "baddate.zip", {"manifest.csv": manifest.format("2025-02-30"), "orgs.csv": "d\n"})
    folder = landing / "folder_export"
    folder.mkdir()
    (folder / "manifest.csv").write_text(manifest.format("2025-09-06"))
    (folder / "orgs.csv").write_text("e\n")
    found = {d.name: (d.delivery_date, d.date_source) for d in find_deliveries(landing, CUSTOMER.tz)}
    assert found.pop("baddate.zip")[1] == "arrival"           # not a date: the arrival time's date
    assert found == {"export.zip": ("2025-09-03", "manifest"), "nested.zip": ("2025-09-04", "manifest"),
                     "acme_20250902.zip": ("2025-09-02", "name"),   # the name wins
                     "folder_export": ("2025-09-06", "manifest")}
    assert [d.name for d in find_deliveries(landing, CUSTOMER.tz, date="2025-09-03")] == ["export.zip"]
    paths = CustomerPaths.for_customer("acme", tmp_path)
    ledger_tick(landing, paths, {})
    with Ledger(paths) as ledger:
        recorded = {d.file_name: (d.delivery_date, d.date_source) for d in ledger.deliveries()}
    assert recorded["export.zip"] == ("2025-09-03", "manifest")


def test_writer_lock_waits_names_its_holder_and_dies_with_it(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from kinvolved_assets.delivery.lock import customer_lock\n"
         "from pathlib import Path\nfrom kinvolved_assets.paths import CustomerPaths\n"
         f"with customer_lock(CustomerPaths.for_customer('acme', Path({str(tmp_path)!r})), 'run r-1'):\n"
         "    print('held', flush=True)\n    time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert is_locked(paths)
        told = []
        with pytest.raises(CustomerBusy, match=r"customer acme is being ingested by pid \d+: run r-1"):
            with customer_lock(paths, "second", wait_seconds=0.5, on_wait=told.append):
                pass
        assert told and "waiting for it to finish" in told[0]
    finally:
        holder.kill()
        holder.wait()
    started = time.monotonic()
    with customer_lock(paths, "third", wait_seconds=5), customer_lock(paths, "re-entered"):
        assert not is_locked(paths)
    assert time.monotonic() - started < 1, "a killed holder's lock is free at once"


def test_operator_commands_list_and_supersede(tmp_path, monkeypatch, capsys):
    from kinvolved_assets.cli.main import main
    from tests.districts import add_customer

    home, configs = tmp_path / "home", tmp_path / "configs"
    configs.mkdir()
    monkeypatch.setenv("KINVOLVED_HOME", str(home))
    monkeypatch.setenv("KINVOLVED_CONFIG_DIR", str(configs))
    add_customer(home, configs, "acme", generate_deliveries=False)
    paths = CustomerPaths.for_customer("acme", home)
    with Ledger(paths) as ledger:
        ledger.register("a" * 64, "acme_20250902.zip", "2025-09-02", "name")
        ledger.start("a" * 64, "run-1")
        ledger.finish("a" * 64, "blocked", rows=5, errors=1, warnings=0)
        ledger.register("b" * 64, "acme_20250902_fixed.zip", "2025-09-02", "name")
        ledger.start("b" * 64, "run-2")
        ledger.finish("b" * 64, "ingested", rows=5, errors=0, warnings=0)
    assert main(["deliveries", "acme"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:5] == ["2025-09-02", "1", "blocked", "name", "a" * 12]
    assert out[2].split()[:3] == ["2025-09-02", "2", "ingested"] and out[-1] == "2 deliveries of acme"
    assert main(["supersede", "acme", "2"]) == 1, "an ingested delivery cannot be superseded"
    assert "cannot be superseded" in capsys.readouterr().err
    assert main(["supersede", "acme", "1", "--by", "acme_20250902_fixed.zip"]) == 0
    with Ledger(paths) as ledger:
        entry = ledger.get("a" * 64)
    assert entry.state == "superseded" and entry.note == "superseded by #2 acme_20250902_fixed.zip"
    assert main(["reingest", "acme", "99"]) == 2
    assert "no delivery '99'" in capsys.readouterr().err


def test_attendance_ending_long_before_the_delivery_date_is_warned(tmp_path):
    from kinvolved_assets.delivery.ingest import DeliveryOutcome, EntityOutcome, delivery_notes
    from kinvolved_assets.oneroster.load import LoadResult

    def outcome(last):
        result = LoadResult(entity="attendance", rows=3, min_date="2025-08-25", max_date=last)
        return DeliveryOutcome("acme", "2025-10-01", tmp_path, "c" * 64, [],
                               {"attendance": EntityOutcome("attendance", result)}, True, 0.1)

    with Ledger(CustomerPaths.for_customer("acme", tmp_path)) as ledger:
        entry = ledger.register("c" * 64, "export.zip", "2025-10-01", "arrival")
    assert delivery_notes(outcome("2025-09-01"), entry) == [
        "attendance in export.zip ends 2025-09-01, 30 days before its delivery date 2025-10-01 "
        "(date from the arrival); check the delivery date"]
    assert delivery_notes(outcome("2025-09-30"), entry) == []
