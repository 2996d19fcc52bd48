"""Shared fixtures: a real KINVOLVED_HOME, real customer configs and a real Dagster instance per test."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# dbt must be on PATH (the venv's bin), whatever shell started pytest.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

from tests.districts import CustomerFolders  # noqa: E402


@dataclass
class Platform(CustomerFolders):
    home: Path
    config_dir: Path
    generated: dict = field(default_factory=dict)

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


# The modules whose tests share the session-scoped `fleet` (tests/reliability/conftest.py: a real daemon
# + webserver run of ~4 minutes): one work unit under `pytest -n 2 --dist loadfile`, so one worker
# runs the fleet once, though each module is collected on its own.
FLEET_MODULES = ("tests/reliability/test_isolation.py", "tests/reliability/test_deployment_concurrency.py",
                 "tests/reliability/test_deployment_personal_data.py")


def fleet_scope(nodeid: str) -> str:
    """The xdist work unit of a test id: its file, the fleet modules all the first of them."""
    file = nodeid.split("::", 1)[0]
    return FLEET_MODULES[0] if file in FLEET_MODULES else file


# The slowest work units of `make test`, slowest first (seconds of one worker, measured on 2 cores): handed
# out before the rest so the two workers finish together; every other file keeps xdist's order after them.
SLOWEST_UNITS = (
    "tests/reliability/test_isolation.py",              # the fleet: daemon + webserver, ~340-400 s
    "tests/integration/test_marts_match_truth.py",      # ~95 s
    "tests/integration/test_ui_browser.py",             # ~93 s
    "tests/integration/test_rest_marts.py",             # ~88 s
    "tests/reliability/test_crash_safety.py",           # ~82 s
)


def longest_first(scope: str) -> int:
    """Sort key of a work unit: its place in SLOWEST_UNITS, then everything else."""
    return SLOWEST_UNITS.index(scope) if scope in SLOWEST_UNITS else len(SLOWEST_UNITS)


@pytest.hookimpl(optionalhook=True)   # a hook of pytest-xdist, absent under `-p no:xdist`
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FleetFileScheduling(LoadFileScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return fleet_scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:   # the longest units first, so no worker is left with one at the end
                self.ordered = True
                for scope in sorted(self.workqueue, key=longest_first):
                    self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return FleetFileScheduling(config, log)
