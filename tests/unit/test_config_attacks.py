"""Hostile customer configs at the loader: every case → one expected one-line error for that file only,
every other customer in the same folder still loads. Plus the landing-folder rules across customers,
the dbt settings file and the school-year start of the delivery partitions."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from kinvolved_assets.customers import MAX_CONFIG_BYTES, load_customer_configs
from kinvolved_assets.delivery.history_window import before_history_message
from kinvolved_assets.marts.settings import write_dbt_settings
from kinvolved_assets.paths import SLUG_RE, check_date
from tests.config_corpus import dump, valid, write_corpus


def test_every_attack_gives_its_own_one_line_error_and_the_others_load(tmp_path):
    configs, home = tmp_path / "configs", tmp_path / "home"
    configs.mkdir()
    home.mkdir()
    expected = write_corpus(configs)
    started = time.monotonic()
    loaded = load_customer_configs(configs, home=home)
    seconds = time.monotonic() - started
    assert sorted(loaded.customers) == ["good", "pii"]
    assert seconds < 10, seconds
    for name, words in expected.items():
        lines = [str(e) for e in loaded.errors if e.file == name]
        assert len(lines) == 1, (name, lines)
        line = lines[0]
        assert line.startswith(f"{name}: "), line
        assert "\n" not in line and "\r" not in line and len(line) < 300 and line.isascii(), line
        for word in words:
            assert word in line, (name, word, line)
    assert {e.file for e in loaded.errors} == set(expected)


def test_slugs_and_dates_match_whole_ascii_strings():
    for bad in ("pii\n", "pii\r", "p\u0131i", "demo\x00", "d" * 41):
        assert not SLUG_RE.fullmatch(bad)
    with pytest.raises(ValueError):
        check_date("2025-09-01\n")
    with pytest.raises(ValueError):
        check_date("２０２５-09-01")


def test_a_symlinked_landing_into_another_customers_folder_is_refused(tmp_path):
    configs, home = tmp_path / "configs", tmp_path / "home"
    configs.mkdir()
    (home / "landing" / "pii").mkdir(parents=True)
    (home / "sftp").mkdir()
    (home / "sftp" / "evil").symlink_to(home / "landing" / "pii")
    (configs / "pii.yaml").write_text(dump(valid("pii")))
    (configs / "evil.yaml").write_text(dump(valid("evil", landing="sftp/evil")))
    loaded = load_customer_configs(configs, home=home)
    assert sorted(loaded.customers) == ["pii"]
    assert [str(e) for e in loaded.errors] == [
        "evil.yaml: landing: landing 'sftp/evil' lies inside customer pii's landing folder: leave landing "
        "out (default landing/evil) or use a folder of its own"]


def test_missing_config_folder_is_an_error_not_a_crash(tmp_path):
    loaded = load_customer_configs(tmp_path / "nowhere", home=tmp_path)
    assert (loaded.customers == {} and len(loaded.errors) == 1 and "KINVOLVED_CONFIG_DIR"
            in loaded.errors[0].message)


def large_config(customer_id: str, schools: int = 2000, closures: int = 10) -> dict:
    ids = [f"org-sch-{i:04d}" for i in range(1, schools + 1)]
    days = [(dt.date(2025, 9, 1) + dt.timedelta(days=7 * k + 2)).isoformat() for k in range(closures)]
    return valid(customer_id, licensed_schools=ids,
                 non_instructional_days={"district": ["2025-11-27"], "schools": {i: list(days) for i in ids}})


def test_two_thousand_schools_load_and_their_lists_travel_in_a_file(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    text = dump(large_config("nyc"))
    (configs / "nyc.yaml").write_text(text)
    assert 128 * 1024 < len(text.encode()) < MAX_CONFIG_BYTES
    started = time.monotonic()
    loaded = load_customer_configs(configs, home=tmp_path)
    assert time.monotonic() - started < 10
    started = time.monotonic()   # sensors and runs load every config each time: unchanged bytes parse once
    assert load_customer_configs(configs, home=tmp_path).customers["nyc"] == loaded.customers["nyc"]
    assert time.monotonic() - started < 1
    customer = loaded.customers["nyc"]
    cli_vars = write_dbt_settings(customer, tmp_path / "build")
    assert len(json.dumps(cli_vars)) < 2048, "the command line carries no lists"
    document = json.loads(Path(cli_vars["customer_settings_file"]).read_text())
    assert len(document["licensed_schools"]) == 2000
    assert len(document["school_closures"]) == 20_000
    assert document["non_instructional_days"] == ["2025-11-27"]


def test_delivery_before_the_first_school_year_names_the_field(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "demo.yaml").write_text(dump(valid("demo")))
    (configs / "old.yaml").write_text(dump(valid("old", history_from_school_year=2019)))
    loaded = load_customer_configs(configs, home=tmp_path)
    demo, old = loaded.customers["demo"], loaded.customers["old"]
    assert demo.history_start == dt.date(2025, 7, 1) and old.history_start == dt.date(2018, 7, 1)
    message = before_history_message(demo, "2018-10-01")
    assert "set history_from_school_year: 2019 in demo.yaml" in message
    assert before_history_message(old, "2018-10-01") is None
    assert before_history_message(demo, "2025-07-01") is None
    assert "reload the code location" in before_history_message(old, "2018-10-01", loaded_start="2025-07-01")


def test_a_history_delivery_is_checked_against_its_own_school_year(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "old.yaml").write_text(dump(valid("old", history_from_school_year=2019)))
    old = load_customer_configs(configs, home=tmp_path).customers["old"]
    assert old.school_year_for("2018-10-01") == 2019
    assert old.school_year_for("2021-06-30") == 2021
    assert old.school_year_for("2025-09-02") == 2026
    assert old.school_year_for("2026-08-01") == 2026      # after the configured year: still school_year
