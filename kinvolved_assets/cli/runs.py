"""What the commands that run Dagster share: KINVOLVED_HOME, the persistent local instance under it,
and the runs' console output sent to a log file while the operator reads a short summary."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

DAGSTER_YAML = Path(__file__).resolve().parent.parent.parent / "dagster.yaml"


@contextlib.contextmanager
def quiet_runs(home: Path):
    """Operator commands print a short summary; the runs' console output (Dagster's DEBUG lines and
    dbt's progress) goes to KINVOLVED_HOME/logs/<command>.log instead (the full logs stay in the UI)."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "runs.log"
    os.environ.setdefault("KINVOLVED_LOG_LEVEL", "INFO")
    with open(path, "a", encoding="utf-8") as handle, contextlib.redirect_stdout(handle), \
            contextlib.redirect_stderr(handle):
        yield path


def tell(line: str) -> None:
    """A line for the operator while the runs' own output goes to the log file."""
    print(line, file=sys.__stderr__, flush=True)


def instance_for(home: Path):
    """A persistent Dagster instance under KINVOLVED_HOME (the UI started with `make ui` shows its runs)."""
    from dagster import DagsterInstance

    from kinvolved_assets.instance_sqlite import install as fewer_instance_fsyncs

    fewer_instance_fsyncs()
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copyfile(DAGSTER_YAML, dagster_home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return DagsterInstance.get()


def home_dir() -> Path:
    """KINVOLVED_HOME, created when missing."""
    from kinvolved_assets.paths import kinvolved_home

    home = kinvolved_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def no_config(customer_id: str) -> None:
    print(f"customer {customer_id!r} has no valid config in customer_configs/", file=sys.stderr)
