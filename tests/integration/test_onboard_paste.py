"""`kinvolved onboard` output pastes cleanly (issue item 4): numeric school ids are printed quoted and
read back as strings, the config schema also accepts them unquoted, and the district row is listed
apart from the schools."""

from __future__ import annotations

import pytest
import yaml

from kinvolved_assets.customers import load_customer_configs
from tests.unit.corpus.reader_deliveries import write_delivery

pytestmark = pytest.mark.integration

ORGS = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
        "100,,,Numeric District,district,D100,\n"
        "2,,,Lincoln Elementary,school,0012,100\n"
        "3,,,Adams Middle,school,13,100\n"
        "sch-4,,,Grant High,school,,100\n")


def test_onboard_block_pastes_into_a_valid_config(platform, capsys):
    from kinvolved_assets.cli.main import main

    platform.add_customer("numdistrict", generate_deliveries=False, licensed_schools=[])
    delivery = write_delivery(platform.home.parent / "incoming", {"orgs.csv": ORGS}, name="export_2025-09-02")
    assert main(["onboard", "numdistrict", str(delivery)]) == 0
    out = capsys.readouterr().out
    assert "Schools found (3):" in out and "District (not a school, never licensed) (1):" in out
    schools_part, district_part = out.split("Schools found (3):")[1].split("District (not a school")
    assert "Lincoln Elementary" in schools_part and "Numeric District" not in schools_part
    assert "Numeric District" in district_part.split("Absence codes")[0]
    block = out[out.index("licensed_schools:"):]
    assert '  - "2"  # 0012 Lincoln Elementary' in block and '  - "3"' in block and "  - sch-4" in block

    cfg_path = platform.config_dir / "numdistrict.yaml"
    config = yaml.safe_load(cfg_path.read_text())
    config.pop("licensed_schools")
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False) + block)
    loaded = load_customer_configs(platform.config_dir)
    assert not loaded.errors, loaded.errors
    assert loaded.customers["numdistrict"].licensed_schools == ["2", "3", "sch-4"]

    # the delivery's schoolYear session (2023-08-01 .. 2024-06-30) is not the configured 2026: said, with
    # the fix
    assert "School year 2026: ERROR session.no_school_year: " in out and "set school_year: 2024" in out

    # a hand-typed block without quotes is accepted too
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False) + "licensed_schools:\n  - 2\n  - 3\n")
    loaded = load_customer_configs(platform.config_dir)
    assert not loaded.errors and loaded.customers["numdistrict"].licensed_schools == ["2", "3"]
