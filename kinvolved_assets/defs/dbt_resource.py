"""The dbt CLI resource of the marts builds."""

from __future__ import annotations

import importlib.metadata
import sys
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version

# dbt's file log (debug level: every statement) goes to the build's target folder, which is emptied
# after every build; not writing it saves 0.6-1.2 s of a tiny build (paired runs, docs/benchmarks.md).
# The run log keeps dbt's info events (stdout) as before.
GLOBAL_FLAGS = ["--log-level-file", "none"]


class MartsDbtResource(DbtCliResource):
    """The ``dbt`` resource of the marts: its project and profiles folders are where the marts build
    runs dbt in its own process (``dbt_in_process``); its ``cli`` runs the project's preparation
    (``dbt parse``) as a subprocess.

    ``DbtCliResource`` without its two start-up costs per ``cli`` call that these marts never use:
    ``dbt --version`` in a subprocess (the venv's dbt is the dbt-core installed beside dagster-dbt, whose
    version is read from the package metadata), and a dbt adapter opened in this process for
    ``fetch_column_metadata``/``fetch_row_counts`` (the figures come from ``marts_figures`` instead).
    Together ~3 s of CPU per call on 2 cores; the dbt subprocess, its events and its outputs are
    unchanged. Built with ``GLOBAL_FLAGS`` (``dbt_resource()``): no dbt file log."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - the adapter handle stays unset
        return None

