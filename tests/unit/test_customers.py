"""Customer config validation: one test per rule, and a bad file never takes down the others."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kinvolved_assets.customers import (
    MAX_CONFIG_BYTES,
    check_cron,
    load_customer_configs,
    validate_customer_config,
)
from kinvolved_assets.paths import CustomerPaths, UnsafePathError, check_slug

GOOD = textwrap.dedent(
    """\
    customer_id: {cid}
    name: Springfield Public Schools
    sis: PowerSchool
    flow: oneroster_csv
    timezone: America/Chicago
    products: [attendance]
    school_year: 2026
    licensed_schools: [org-sch-0001, "1034"]
    non_instructional_days:
      district: [2025-11-27, 2025-11-28]
      schools:
        org-sch-0001: [2025-10-10]
    schedule:
      daily: "0 5 * * mon-fri"
      monthly: "0 6 1 * *"
    attendance:
      chronic_threshold: 0.1
      min_enrolled_days: 10
    """
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_good_config_loads(tmp_path):
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml",
                                                 GOOD.format(cid="springfield")))
    assert errors == []
    assert cfg.customer_id == "springfield"
    assert cfg.attendance.enrollment_end_inclusive is False
    assert cfg.dbt_vars()["non_instructional_days"] == ["2025-11-27", "2025-11-28"]
    assert cfg.dbt_vars()["school_non_instructional_days"] == {"org-sch-0001": ["2025-10-10"]}


@pytest.mark.parametrize(
    "patch, key, fragment",
    [
        ({"timezone: America/Chicago": "timezone: Mars/Olympus"}, "timezone", "IANA"),
        ({'daily: "0 5 * * mon-fri"': 'daily: "61 5 * * *"'}, "schedule.daily", "outside 0-59"),
        ({'daily: "0 5 * * mon-fri"': 'daily: "0 5 * *"'}, "schedule.daily", "5 fields"),
        ({"sis: PowerSchool": "sis: Excel"}, "sis", "PowerSchool"),
        ({"school_year: 2026": "school_year: twenty"}, "school_year", "integer"),
        ({"flow: oneroster_csv": "flow: ftp"}, "flow", "oneroster_csv"),
        ({"products: [attendance]": "products: []"}, "products", "at least 1"),
        ({"chronic_threshold: 0.1": "chronic_threshold: 1.5"}, "attendance.chronic_threshold",
         "less than or equal"),
        ({"school_year: 2026": "school_year: 2026\nschoolyear: 2027"}, "schoolyear", "unknown key"),
        ({'licensed_schools: [org-sch-0001, "1034"]': 'licensed_schools: ["bad id!"]'}, "licensed_schools",
         "sourcedIds"),
        ({"name: Springfield Public Schools": "name: Springfield\nlanding: ../other_customer"},
         "(top level)", "'..'"),
        ({"name: Springfield Public Schools": "name: Springfield\nlanding: /etc"}, "(top level)", "relative"),
    ],
)
def test_each_rule_names_file_key_and_fix(tmp_path, patch, key, fragment):
    text = GOOD.format(cid="springfield")
    for old, new in patch.items():
        assert old in text
        text = text.replace(old, new)
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml", text))
    assert cfg is None
    assert errors, "expected a config error"
    rendered = [str(e) for e in errors]
    assert any(e.key == key and fragment in e.message for e in errors), rendered
    assert all(r.startswith("springfield.yaml: ") for r in rendered)


def test_customer_id_must_be_slug_and_match_file(tmp_path):
    _, errors = validate_customer_config(write(tmp_path, "x.yaml", GOOD.format(cid="../../etc")))
    assert errors[0].key == "customer_id" and "slug" in errors[0].message
    _, errors = validate_customer_config(write(tmp_path, "other.yaml", GOOD.format(cid="springfield")))
    assert errors[0].key == "customer_id" and "file name" in errors[0].message


def test_malformed_yaml_reports_position(tmp_path):
    _, errors = validate_customer_config(write(tmp_path, "broken.yaml",
                                               "customer_id: broken\nname: [unclosed\n"))
    assert errors[0].file == "broken.yaml"
    assert errors[0].key.startswith("line ")
    assert "malformed YAML" in errors[0].message


def test_yaml_alias_bomb_is_refused_quickly(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    _, errors = validate_customer_config(write(tmp_path, "bomb.yaml", bomb))
    assert errors and "anchors" in errors[0].message


def test_not_a_mapping_and_oversized(tmp_path):
    _, errors = validate_customer_config(write(tmp_path, "list.yaml", "- a\n- b\n"))
    assert "mapping" in errors[0].message
    # one byte over the limit (1 MiB: a 2,000-school config with 10 closure days per school fits)
    _, errors = validate_customer_config(write(tmp_path, "huge.yaml", "# " + "x" * (MAX_CONFIG_BYTES - 1)))
    assert "bytes" in errors[0].message


def test_bad_file_does_not_take_down_others(tmp_path):
    write(tmp_path, "alpha.yaml", GOOD.format(cid="alpha"))
    write(tmp_path, "beta.yaml", GOOD.format(cid="beta").replace("America/Chicago", "Nowhere/Land"))
    write(tmp_path, "gamma.yaml", "customer_id: [\n")
    loaded = load_customer_configs(tmp_path)
    assert sorted(loaded.customers) == ["alpha"]
    assert sorted(e.file for e in loaded.errors) == ["beta.yaml", "gamma.yaml"]


def test_symlinked_config_is_refused(tmp_path):
    real = write(tmp_path, "real.txt", GOOD.format(cid="linked"))
    (tmp_path / "linked.yaml").symlink_to(real)
    _, errors = validate_customer_config(tmp_path / "linked.yaml")
    assert "symlink" in errors[0].message


def test_landing_symlink_escape_is_refused(tmp_path):
    home = tmp_path / "home"
    outside = tmp_path / "outside"
    outside.mkdir()
    home.mkdir()
    (home / "deliveries").symlink_to(outside)
    cfg, errors = validate_customer_config(
        write(tmp_path, "sneaky.yaml", GOOD.format(cid="sneaky") + "landing: deliveries\n"))
    assert errors == []
    with pytest.raises(UnsafePathError):
        cfg.landing_dir(home)


@pytest.mark.parametrize("bad", ["", "A", "Demo", "../x", "x/y", "1abc", "a" * 41, "demo\x00"])
def test_slug_rejects_unsafe_ids(bad):
    with pytest.raises(UnsafePathError):
        check_slug(bad)
    with pytest.raises(UnsafePathError):
        CustomerPaths.for_customer(bad)


def test_cron_names_and_steps():
    assert check_cron("*/15 0-6 1,15 jan-mar mon") == "*/15 0-6 1,15 jan-mar mon"
    with pytest.raises(ValueError):
        check_cron("*/0 * * * *")


def test_shipped_configs_are_valid():
    loaded = load_customer_configs()
    assert loaded.errors == []
    assert "demo" in loaded.customers


PERIODS = "  min_enrolled_days: 10\n  daily_from_periods:\n"


@pytest.mark.parametrize(
    "rule, key, fragment",
    [
        ("    mode: share\n    code: AU\n", "attendance.daily_from_periods.share", "mode share needs share"),
        ("    mode: minutes\n    code: AU\n", "attendance.daily_from_periods.minutes", "needs minutes"),
        ("    mode: all_periods\n", "attendance.daily_from_periods.code", "absence codes"),
        ("    mode: share\n    share: 0.5\n    half_day_share: 0.6\n    code: AU\n",
         "attendance.daily_from_periods.half_day_share", "must be below share 0.5"),
        ("    mode: some\n", "attendance.daily_from_periods.mode", "all_periods"),
        ("    mode: share\n    share: 1.5\n    code: AU\n", "attendance.daily_from_periods.share",
         "at most 1"),
        ("    mode: none\n    precedence: daily\n", "attendance.daily_from_periods.precedence",
         "daily_event"),
        ("    mode: all_periods\n    code: AU\n    schools:\n      org-sch-0001: {mode: minutes}\n",
         "attendance.daily_from_periods.schools.org-sch-0001.minutes", "needs minutes"),
        ("    schools:\n      org-sch-0001: {shares: 0.5}\n",
         "attendance.daily_from_periods.schools.org-sch-0001.shares", "did you mean 'share'"),
        ("    code: 'A U'\n", "attendance.daily_from_periods.code", "sourcedIds"),
    ],
)
def test_daily_from_periods_rules_name_key_and_fix(tmp_path, rule, key, fragment):
    text = GOOD.format(cid="springfield").replace("  min_enrolled_days: 10\n", PERIODS + rule)
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml", text))
    assert cfg is None
    assert any(e.key == key and fragment in e.message for e in errors), [str(e) for e in errors]


def test_daily_from_periods_resolves_school_rules(tmp_path):
    from kinvolved_assets.marts.settings import write_dbt_settings

    rule = ("    mode: share\n    share: 0.5\n    half_day_share: 0.25\n    code: AU\n"
            "    schools:\n      org-sch-0001: {mode: minutes, minutes: 240, precedence: periods}\n")
    text = GOOD.format(cid="springfield").replace("  min_enrolled_days: 10\n", PERIODS + rule)
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml", text))
    assert errors == []
    small = write_dbt_settings(cfg, tmp_path / "build")
    assert {k: v for k, v in small.items() if k.startswith("period_rule_")} == {
        "period_rule_mode": "share", "period_rule_share": 0.5, "period_rule_minutes": "",
        "period_rule_half_day_share": 0.25, "period_rule_code": "AU", "period_rule_precedence": "daily_event"}
    assert "school_period_rules" not in small, "lists travel in the settings file"
    import json

    document = json.loads(Path(small["customer_settings_file"]).read_text())
    assert document["period_rules"] == [{"school_sourced_id": "org-sch-0001", "mode": "minutes", "share": 0.5,
                                         "minutes": 240, "half_day_share": 0.25, "code": "AU",
                                         "precedence": "periods"}]
    default, _ = validate_customer_config(write(tmp_path, "springfield.yaml", GOOD.format(cid="springfield")))
    assert default.dbt_vars()["period_rule_mode"] == "none" \
        and default.dbt_vars()["school_period_rules"] == []


CALENDAR = "school_years:\n  2026:\n"


@pytest.mark.parametrize(
    "block, key, fragment",
    [
        ("    first_day: 2025-06-25\n    last_day: 2026-06-12\n", "school_years[2026].first_day",
         "outside school year 2025-26 (2025-07-01 .. 2026-06-30)"),
        ("    first_day: 2025-08-25\n    last_day: 2026-07-02\n", "school_years[2026].last_day",
         "put the block under the year that holds it (2027)"),
        ("    first_day: 2025-09-25\n    last_day: 2025-09-12\n", "school_years[2026].last_day",
         "before first_day"),
        ("    first_day: 2025-08-25\n    last_day: 2026-06-12\n"
         "    non_instructional_days: {district: [2026-06-20]}\n",
         "school_years[2026].non_instructional_days.district", "outside this year's school days"),
        ("    first_day: 2025-08-25\n    last_day: 2026-06-12\n"
         "    non_instructional_days: {schools: {org-sch-0001: [2025-08-01]}}\n",
         "school_years[2026].non_instructional_days.schools.org-sch-0001", "outside this year's school days"),
        ("    first_dya: 2025-08-25\n    last_day: 2026-06-12\n", "school_years[2026].first_dya",
         "did you mean 'first_day'"),
        ("    first_day: 2025-08-25\n", "school_years[2026].last_day",
         "is required: add it, the last school day"),
        ("    first_day: 25-08-2025\n    last_day: 2026-06-12\n", "school_years[2026].first_day",
         "write YYYY-MM-DD"),
    ],
)
def test_school_year_calendar_names_key_and_fix(tmp_path, block, key, fragment):
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml",
                                                GOOD.format(cid="springfield") + CALENDAR + block))
    assert cfg is None
    assert any(e.file == "springfield.yaml" and e.key == key and fragment in e.message for e in errors), \
        [str(e) for e in errors]


@pytest.mark.parametrize(
    "text, key, fragment",
    [
        ("school_years:\n  2027: {first_day: 2026-08-25, last_day: 2027-06-11}\n", "school_years[2027]",
         "is not a school year this customer loads (2026)"),
        ("history_from_school_year: 2024\n"
         "school_years:\n  2023: {first_day: 2022-08-25, last_day: 2023-06-11}\n",
         "school_years[2023]", "(2024 .. 2026)"),
        ("school_years:\n  '2026': {first_day: 2025-08-25, last_day: 2026-06-11}\n",
         "school_years.2026 (key)", "e.g. {2027: {first_day"),
        ("school_years: [2026]\n", "school_years", "must be a mapping"),
    ],
)
def test_school_year_calendar_years(tmp_path, text, key, fragment):
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml",
                                                 GOOD.format(cid="springfield") + text))
    assert cfg is None
    assert any(e.key == key and fragment in e.message for e in errors), [str(e) for e in errors]


def test_school_year_calendar_reaches_dbt(tmp_path):
    import json

    from kinvolved_assets.marts.settings import write_dbt_settings

    block = ("    first_day: 2025-08-25\n    last_day: 2026-06-12\n    non_instructional_days:\n"
             "      district: [2025-12-24, 2025-11-27]\n"
             "      schools: {org-sch-0001: [2026-01-02], org-sch-0002: [2026-01-05]}\n")
    cfg, errors = validate_customer_config(write(tmp_path, "springfield.yaml",
                                                GOOD.format(cid="springfield") + CALENDAR + block))
    assert errors == []
    calendars = [{"school_year": 2026, "first_day": "2025-08-25", "last_day": "2026-06-12"}]
    variables = cfg.dbt_vars()
    assert variables["school_calendars"] == calendars
    # the year's days join the top-level ones (each date once, sorted)
    assert variables["non_instructional_days"] == ["2025-11-27", "2025-11-28", "2025-12-24"]
    assert variables["school_non_instructional_days"] == {"org-sch-0001": ["2025-10-10", "2026-01-02"],
                                                          "org-sch-0002": ["2026-01-05"]}
    small = write_dbt_settings(cfg, tmp_path / "build")
    assert "school_calendars" not in small
    document = json.loads(Path(small["customer_settings_file"]).read_text())
    assert document["school_calendars"] == calendars
    assert {"school_sourced_id": "org-sch-0001", "closed_date": "2026-01-02"} in document["school_closures"]
    default, _ = validate_customer_config(write(tmp_path, "springfield.yaml", GOOD.format(cid="springfield")))
    assert default.dbt_vars()["school_calendars"] == []
