"""Helpers of the reliability suite: a platform home with a persistent Dagster instance, the platform
run in child processes (killable with SIGKILL, process group included), and a shared baseline."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
PYTHON = sys.executable
BIN = str(Path(PYTHON).parent)
SCHOOL_YEAR = 2026


def child_env(home: Path, config_dir: Path, dagster_home: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": str(config_dir), "DAGSTER_HOME": str(dagster_home),
        "PATH": BIN + os.pathsep + env.get("PATH", ""), "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@dataclass
class Site:
    """One KINVOLVED_HOME + customer_configs + DAGSTER_HOME (copy of the repo's dagster.yaml)."""

    root: Path
    generated: dict = field(default_factory=dict)
    cli_output: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def config_dir(self) -> Path:
        return self.root / "customer_configs"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def prepare(self) -> Site:
        for folder in (self.home, self.config_dir, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "dagster.yaml", self.dagster_home / "dagster.yaml")
        return self

    def env(self, **extra: str) -> dict:
        return child_env(self.home, self.config_dir, self.dagster_home, **extra)

    def add_customer(self, customer_id: str, *, seed: int = 7, days: int = 5, start: dt.date | None = None,
                     generate_drops: bool = True, **overrides):
        from kinvolved_assets.generator import generate, suggested_config
        from kinvolved_assets.generator.calendar import build_calendar

        config = suggested_config(customer_id, "tiny", seed, SCHOOL_YEAR)
        config.update(overrides)
        (self.config_dir / f"{customer_id}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        if not generate_drops:
            return None
        start = start or build_calendar(SCHOOL_YEAR).start
        result = generate(customer_id, "tiny", seed, start, days, self.landing(customer_id), fmt="zip",
                          truth=self.home / "truth" / customer_id, school_year=SCHOOL_YEAR)
        self.generated[customer_id] = result
        return result

    def landing(self, customer_id: str) -> Path:
        return self.home / "landing" / customer_id

    def warehouse(self, customer_id: str) -> Path:
        return self.home / "warehouse" / customer_id

    def marts(self, customer_id: str) -> Path:
        return self.warehouse(customer_id) / "marts.duckdb"

    # ---- child processes -------------------------------------------------------------------------
    def start(self, *args: str, failpoint: str | None = None) -> subprocess.Popen:
        extra = {"RELIABILITY_FAILPOINT": failpoint} if failpoint else {}
        return subprocess.Popen([PYTHON, str(DRIVER), *args], env=self.env(**extra), cwd=str(self.root),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def run(self, *args: str, failpoint: str | None = None, timeout: float = 240, expect_ok: bool | None = True):
        proc = self.start(*args, failpoint=failpoint)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise AssertionError(f"driver {args} timed out\n{err[-3000:]}") from None
        self.cli_output += [out, err]
        summary = _last_json(out)
        if expect_ok is not None:
            assert (proc.returncode == 0) == expect_ok, f"driver {args} rc={proc.returncode}\n{out[-3000:]}\n{err[-5000:]}"
        return proc.returncode, summary, out, err

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(Path(BIN) / "kinvolved"), *args], env=self.env(), cwd=str(self.root),
                              capture_output=True, text=True, timeout=timeout)
        self.cli_output += [proc.stdout, proc.stderr]
        return proc


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return {}


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child and everything in its session (dbt included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_for(predicate, timeout: float, interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (relative path → hash)."""
    import hashlib

    out = {}
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def copy_site(template: Site, dest: Path) -> Site:
    """A fresh copy of a prepared site (absolute paths inside the Dagster instance stay valid only for
    event history; the platform itself derives every path from KINVOLVED_HOME)."""
    shutil.copytree(template.root, dest, symlinks=True)
    site = Site(dest, generated=dict(template.generated))
    shutil.copyfile(REPO / "dagster.yaml", site.dagster_home / "dagster.yaml")
    return site


@pytest.fixture(scope="session")
def dbt_manifest():
    from kinvolved_assets.defs.marts import prepare_manifest

    return prepare_manifest()


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, dbt_manifest) -> Site:
    """Customer ``acme``: the first 4 deliveries ingested and marts published; the 5th is landed
    (one weekday later) but not yet ingested. Built once, copied by each test that needs it."""
    site = Site(tmp_path_factory.mktemp("baseline")).prepare()
    gen = site.add_customer("acme", seed=7, days=7)
    drops = sorted(gen.drops, key=lambda d: d.delivery_date)
    assert len(drops) == 5, [d.delivery_date for d in drops]
    held = site.root / "held"
    held.mkdir()
    last = drops[-1]
    shutil.move(str(last.path), held / last.path.name)
    site.run("process", "acme")
    shutil.move(str(held / last.path.name), site.landing("acme") / last.path.name)
    site.last_date = last.delivery_date.isoformat()
    site.last_drop = last.path.name
    return site


@pytest.fixture
def site(tmp_path, dbt_manifest) -> Site:
    return Site(tmp_path / "site").prepare()


@pytest.fixture(scope="session")
def reference(tmp_path_factory, baseline) -> Site:
    """The baseline plus its 5th delivery and a marts build, uninterrupted: the expected end state."""
    site = copy_site(baseline, tmp_path_factory.mktemp("reference") / "site")
    site.last_date, site.last_drop = baseline.last_date, baseline.last_drop
    site.run("ingest", "acme", site.last_date, "--marts")
    from kinvolved_assets.marts_reader import content_digest

    site.digest = content_digest(site.marts("acme"))
    return site


def marts_digest_via(con) -> str:
    """``content_digest`` over an already open connection (a reader that opened the file earlier)."""
    import hashlib

    from kinvolved_assets.marts_reader import MART_TABLES

    digest = hashlib.sha256()
    for table in MART_TABLES:
        rows = con.execute(f"select * from {table} order by all").fetchall()
        digest.update(table.encode())
        digest.update(repr(rows).encode())
    return digest.hexdigest()


FAULTS: list[dict] = []


def record_fault(fault: str, observed: str) -> None:
    """Collected into the terminal summary: the table of faults injected and what was observed."""
    FAULTS.append({"fault": fault, "observed": observed})


def pytest_terminal_summary(terminalreporter):
    if FAULTS:
        terminalreporter.section("reliability: faults injected")
        for row in FAULTS:
            terminalreporter.write_line(f"- {row['fault']}: {row['observed']}")
