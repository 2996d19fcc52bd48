"""Shared fixtures: a real KINVOLVED_HOME, real customer configs and a real Dagster instance per test."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# dbt must be on PATH (the venv's bin), whatever shell started pytest.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


@dataclass
class Platform:
    home: Path
    config_dir: Path
    generated: dict = field(default_factory=dict)

    def add_customer(self, customer_id: str, *, scale: str = "tiny", seed: int = 7, school_year: int = 2026,
                     start: dt.date | None = None, days: int = 5, fmt: str = "zip", quirks: bool = False,
                     generate_drops: bool = True, **overrides):
        from kinvolved_assets.generator import generate, suggested_config
        from kinvolved_assets.generator.calendar import build_calendar

        config = suggested_config(customer_id, scale, seed, school_year)
        config.update(overrides)
        (self.config_dir / f"{customer_id}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        if not generate_drops:
            return None
        start = start or build_calendar(school_year).start
        result = generate(customer_id, scale, seed, start, days, self.landing(customer_id), fmt=fmt,
                          truth=self.home / "truth" / customer_id, quirks=quirks, school_year=school_year)
        self.generated[customer_id] = result
        return result

    def landing(self, customer_id: str) -> Path:
        return self.home / "landing" / customer_id

    def warehouse(self, customer_id: str) -> Path:
        return self.home / "warehouse" / customer_id

    def definitions(self):
        from kinvolved_assets.definitions import build_definitions

        return build_definitions(self.config_dir, self.home, settle_seconds=0)


@pytest.fixture
def platform(tmp_path, monkeypatch) -> Platform:
    home = tmp_path / "home"
    config_dir = tmp_path / "customer_configs"
    home.mkdir()
    config_dir.mkdir()
    monkeypatch.setenv("KINVOLVED_HOME", str(home))
    monkeypatch.setenv("KINVOLVED_CONFIG_DIR", str(config_dir))
    return Platform(home=home, config_dir=config_dir)


@pytest.fixture
def instance():
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as inst:
        yield inst
