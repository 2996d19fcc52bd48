"""Landing-folder logic of the delivery sensor, against real folders and files."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import pytest

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.defs.sensors import evaluate_landing
from kinvolved_assets.delivery import (
    archive_drop,
    date_from_name,
    drop_sha256,
    find_archived,
    find_drops,
    incomplete_reason,
)
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
    [("acme_20250902.zip", "2025-09-02"), ("oneroster-2025-09-02", "2025-09-02"), ("users_2025_09_02.csv", "2025-09-02"),
     ("attendance_1034.csv", None), ("drop_20251341.zip", None), ("x120250902.zip", None)],
)
def test_date_from_name(name, expected):
    assert date_from_name(name) == expected


def test_new_drop_then_same_drop_again(tmp_path):
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
    assert tick(landing, cursor)[1] == [], "a skipped empty drop is logged once"


def test_loose_csvs_grouped_by_date(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "orgs_20250908.csv").write_text("sourcedId\n1\n")
    (landing / "users_20250908.csv").write_text("sourcedId\n2\n")
    (landing / "orgs_20250909.csv").write_text("sourcedId\n3\n")
    drops = find_drops(landing, CUSTOMER.tz)
    assert [(d.kind, d.delivery_date, len(d.paths)) for d in drops] == [
        ("loose", "2025-09-08", 2), ("loose", "2025-09-09", 1)]
    requests, _, _ = tick(landing, {})
    assert [r["drop"] for r in requests] == ["loose_2025-09-08", "loose_2025-09-09"]


def test_restart_resends_nothing_and_loses_nothing(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    make_zip(landing / "acme_20250910.zip", {"orgs.csv": "a\n"})
    _, _, cursor = tick(landing, {})
    stored = json.dumps(cursor)  # what a daemon restart gets back
    make_zip(landing / "acme_20250911.zip", {"orgs.csv": "b\n"})
    requests, _, _ = tick(landing, json.loads(stored))
    assert [r["drop"] for r in requests] == ["acme_20250911.zip"]


def test_archive_is_idempotent_and_never_overwrites(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    paths = CustomerPaths.for_customer("acme", tmp_path)
    make_zip(landing / "acme_20250912.zip", {"orgs.csv": "a\n"})
    drop = find_drops(landing, CUSTOMER.tz)[0]
    assert incomplete_reason(drop) is None
    sha = drop_sha256(drop)
    first = archive_drop(drop, paths, sha)
    assert archive_drop(drop, paths, sha) == first
    os.remove(landing / "acme_20250912.zip")
    make_zip(landing / "acme_20250912.zip", {"orgs.csv": "corrected\n"})
    drop2 = find_drops(landing, CUSTOMER.tz)[0]
    second = archive_drop(drop2, paths, drop_sha256(drop2))
    assert second != first and first.exists() and second.exists()
    assert find_archived(paths, "2025-09-12", sha) == first
    assert (first.parent / (first.name + ".sha256")).read_text().startswith(sha)
