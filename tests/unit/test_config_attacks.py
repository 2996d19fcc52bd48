"""Hostile customer configs at the loader: every case → one expected one-line error for that file only,
every other customer in the same folder still loads. Plus the landing-folder rules across customers,
the dbt settings file and the school-year start of the delivery partitions."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pytest
import yaml

from kinvolved_assets.customers import MAX_CONFIG_BYTES, before_history_message, load_customer_configs
from kinvolved_assets.dbt_settings import write_dbt_settings
from kinvolved_assets.generator import suggested_config
from kinvolved_assets.paths import SLUG_RE, check_date


def valid(stem: str, **changes) -> dict:
    return {**suggested_config(stem, "tiny", 7, 2026), **changes}


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def write_corpus(folder: Path) -> dict[str, tuple[str, ...]]:
    """Writes the corpus next to two valid customers; returns file name -> words its one error holds."""
    def put(name: str, text: str | bytes) -> None:
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    put("good.yaml", dump(valid("good")))
    put("pii.yaml", dump(valid("pii")))
    cases = {
        "bad_date.yaml": (dump(valid("bad_date")).replace("district:\n", "district:\n  - 2025-13-01\n"),
                          ("non_instructional_days.district[0]", "'2025-13-01'", "YYYY-MM-DD")),
        "bad_tz.yaml": (dump(valid("bad_tz", timezone="America")), ("timezone", "'America'", "IANA")),
        "deep.yaml": ("customer_id: deep\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", ("line 2", "nested deeper")),
        "slug_nl.yaml": (dump(valid("slug_nl", customer_id="pii\n")), ("customer_id", "'pii\\n'", "slug")),
        "slug_utf.yaml": (dump(valid("slug_utf", customer_id="pïi")), ("customer_id", "slug", "ASCII")),
        "evil.yaml": (dump(valid("evil", landing="landing/pii")), ("landing", "customer pii's landing folder")),
        "thief.yaml": (dump(valid("thief", landing="archive/pii")), ("landing", "customer pii's archive")),
        "wide.yaml": (dump(valid("wide", landing=".")), ("landing", "contains the platform folder")),
        "year26.yaml": (dump(valid("year26", school_year=26)),
                        ("school_year", "26 is not a school year", "e.g. 2027 for 2026-27")),
        "wrong_type.yaml": (dump(valid("wrong_type", products="attendance")), ("products", "must be a list")),
        "bool_year.yaml": (dump(valid("bool_year", school_year=True)), ("school_year", "integer", "2026-27")),
        "unknown.yaml": (dump(valid("unknown", schol_year=2026)), ("schol_year", "unknown key", "'school_year'")),
        "dup.yaml": (dump(valid("dup")) + "school_year: 2027\n", ("line", "duplicate key 'school_year'")),
        "empty.yaml": ("", ("(file)", "empty")),
        "comments.yaml": ("# nothing here\n", ("(top level)", "mapping")),
        "binary.yaml": (bytes(range(256)) * 8, ("(file)", "NUL")),
        "latin1.yaml": (dump(valid("latin1")).replace("Latin1 Unified", "Müller").encode("latin-1"), ("(file)", "UTF-8")),
        "big.yaml": ("x: " + "a" * (10 * 1024 * 1024), ("(file)", "bytes", str(MAX_CONFIG_BYTES))),
        "alias.yaml": ("customer_id: alias\na: &a [x]\nb: *a\n", ("line 2", "anchors")),
        "tag.yaml": ("customer_id: tag\nx: !!python/object:os.system ls\n", ("line 2", "tag", "not allowed")),
        "history.yaml": (dump(valid("history", history_from_school_year=2027)),
                         ("history_from_school_year", "later than school_year")),
        "name_nl.yaml": (dump(valid("name_nl", name="Line\nBreak")), ("name", "one line")),
        "cron.yaml": (dump(valid("cron", schedule={"daily": "0 ٥ * * *"})), ("schedule.daily", "ASCII")),
        "twin.yaml": (dump(valid("twin")), ("customer_id", "also configured in twin.yml")),
        "twin.yml": (dump(valid("twin")), ("customer_id", "also configured in twin.yaml")),
        "same_a.yaml": (dump(valid("same_a", landing="sftp/shared")), ("landing", "same folder as same_b.yaml")),
        "same_b.yaml": (dump(valid("same_b", landing="sftp/shared")), ("landing", "same folder as same_a.yaml")),
        "nest_a.yaml": (dump(valid("nest_a", landing="sftp/n")), ("landing", "holding that of nest_b.yaml")),
        "nest_b.yaml": (dump(valid("nest_b", landing="sftp/n/inner")), ("landing", "inside that of nest_a.yaml")),
    }
    for name, (text, _) in cases.items():
        put(name, text)
    os.mkfifo(folder / "zz.yaml")                                    # reading it would block forever
    (folder / "link.yaml").symlink_to("/etc/passwd")
    (folder / "folder.yaml").mkdir()
    words = {name: w for name, (_, w) in cases.items()}
    words.update({"zz.yaml": ("(file)", "FIFO"), "link.yaml": ("(file)", "symlink"), "folder.yaml": ("(file)", "folder")})
    return words


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
        "evil.yaml: landing: landing 'sftp/evil' lies inside customer pii's landing folder: leave landing out "
        "(default landing/evil) or use a folder of its own"]


def test_missing_config_folder_is_an_error_not_a_crash(tmp_path):
    loaded = load_customer_configs(tmp_path / "nowhere", home=tmp_path)
    assert loaded.customers == {} and len(loaded.errors) == 1 and "KINVOLVED_CONFIG_DIR" in loaded.errors[0].message


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
