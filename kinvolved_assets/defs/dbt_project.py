"""The dbt project of the marts and its prepared manifest (``kinvolved prepare-dbt``).

``DBT_PROJECT`` is dagster-dbt's ``DbtProject`` of ``dbt_project/``; ``prepare_manifest`` runs its
preparation (``dbt parse`` into ``dbt_project/target``: ``manifest.json``, read by the asset
definitions, and ``partial_parse.msgpack``, the seed of every customer's dbt target) when the
manifest is missing or older than a file of the project.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from kinvolved_assets.defs.dbt_resource import GLOBAL_FLAGS, MartsDbtResource
from kinvolved_assets.defs.marts_files import DBT_BUILD_NAME

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST_PATH = DBT_PROJECT.manifest_path
PARSE_FREE_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}


def dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"


def newest_source_mtime(project_dir: Path = DBT_PROJECT_DIR) -> float:
    """The latest modification time of a model, macro, test, seed, contract file or dbt_project.yml."""
    files = [f for folder in ("models", "macros", "tests", "seeds", "contract")
             for f in (project_dir / folder).rglob("*") if f.is_file()]
    return max(f.stat().st_mtime for f in [*files, project_dir / "dbt_project.yml"])


def dbt_sources_newer_than(path: Path) -> bool:
    """Whether a model, macro, test, seed, contract file or dbt_project.yml changed after ``path``."""
    return not path.exists() or newest_source_mtime() > path.stat().st_mtime



# The profile's values of one build (profiles.yml) as every parse of the project sees them: the same
# in every parse (dbt hashes the rendered profile into its parse state: another one parses in full),
# and the build file's name (DuckDB's catalog name, which the parsed relations carry) as every build
# opens it (``marts_files.DBT_BUILD_NAME``). A parse opens no database.
PARSE_PROFILE_ENV = {"KINVOLVED_MARTS_DB": f"target/{Path(DBT_BUILD_NAME).name}",
                     "KINVOLVED_DUCKDB_TEMP_DIR": "target/duckdb_tmp"}


@contextmanager
def patched_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``values`` set (None: unset) for the block, then as before."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def parse_env():
    """The environment every parse of the project runs in (preparation and in-process builds alike)."""
    return patched_env({**PARSE_FREE_ENV, **PARSE_PROFILE_ENV})


class KinvolvedProjectPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparation (``dbt parse``, then the seeds' entries of ``partial_parse.msgpack``
    invalidated so a moved project re-reads their path) with this venv's dbt."""

    def prepare(self, project: DbtProject) -> None:
        with parse_env():
            resource = MartsDbtResource(project_dir=project, dbt_executable=dbt_executable(),
                                        global_config_flags=GLOBAL_FLAGS)
            resource.cli(self._prepare_project_cli_args, target_path=project.target_path).wait()
        self._invalidate_seeds_in_partial_parse(project)


def prepare_manifest(force: bool = False) -> Path:
    """Parse the project when the manifest is missing or older than the project (tests, CI, CLI)."""
    if force or dbt_sources_newer_than(MANIFEST_PATH):
        try:
            KinvolvedProjectPreparer().prepare(DBT_PROJECT)
        except Exception as exc:   # noqa: BLE001 - the CLI says which step failed and why
            raise RuntimeError(f"dbt parse failed: {exc}") from exc
    return MANIFEST_PATH


def dbt_resource() -> MartsDbtResource:
    """The ``dbt`` resource of the marts asset: this project, this venv's dbt."""
    return MartsDbtResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                            dbt_executable=dbt_executable(), global_config_flags=GLOBAL_FLAGS)
