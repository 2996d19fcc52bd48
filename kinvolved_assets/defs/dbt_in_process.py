"""dbt run inside the step's process: the marts build without a dbt subprocess.

A ``dbt build`` in a subprocess pays, every time, for Python and dbt's imports, a partial parse (a
full one when the customer's ``--vars`` differ from the kept parse state), the manifest written
back, and the JSON of every event through a pipe. Here the project is parsed once per process
(``project_manifest``: partial parsing from the prepared ``dbt_project/target``), every build runs on
a fresh copy of that manifest, read back from its msgpack (dbt writes compiled SQL into the nodes: no
build sees another's) and
dbt's events arrive through a callback. The customer's vars and profile are read per build as
before, so one process may build many customers, one at a time (``_INVOKE``).

dbt's result events become Dagster events through dagster-dbt's own conversion
(``DbtCoreCliEventMessage``), with the selection dagster-dbt derives from the step's context. Its
info/warn/error lines go to stdout (the run's compute log) as the subprocess's did.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_manifest_and_translator_from_dbt_assets,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from kinvolved_assets.defs.dbt_project import newest_source_mtime, parse_env
from kinvolved_assets.permissions import private_dir

RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
# no file log, no stdout log of dbt's own (the callback writes the lines), no usage statistics
QUIET_FLAGS = ["--log-level-file", "none", "--log-level", "none", "--no-send-anonymous-usage-stats"]

_INVOKE = threading.Lock()          # dbt's flags, adapters and event manager are process-wide
_STDOUT = threading.Lock()          # one writer of this process's stdout at a time during a build
_PARSED: dict[tuple, bytes] = {}    # (project dir, newest source mtime) -> the parsed manifest, msgpack
PARSES: list[str] = []              # this process's parses of the project, "partial" or "full" (tests)


@dataclass
class InProcessBuild:
    """What one in-process dbt invocation left: its Dagster events and whether it succeeded."""
    events: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    success: bool = False

    def is_successful(self) -> bool:
        return self.success and not self.errors


def project_manifest(project_dir: Path, profiles_dir: Path):
    """A fresh copy of the project's parsed dbt manifest. Parsed once per process (and again after a
    source changed), in a private scratch target seeded with the prepared parse state; kept as
    msgpack, as dbt keeps its parse state, and read back per build (``copy.deepcopy`` of a dbt 1.11
    ``Manifest`` loses its lookups)."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

    key = (str(project_dir), newest_source_mtime(project_dir))
    if key not in _PARSED:
        parsed, kind = _parse(project_dir, profiles_dir)
        PARSES.append(kind)
        _PARSED.clear()
        _PARSED[key] = parsed.to_msgpack(extended_mashumaro_encoder)
    manifest = Manifest.from_msgpack(_PARSED[key], decoder=extended_mashumuro_decoder)
    manifest.build_parent_and_child_maps()
    manifest.build_group_map()
    manifest.build_flat_graph()
    return manifest


def _parse(project_dir: Path, profiles_dir: Path):
    """``dbt parse`` in this process, in the environment of the preparation: (manifest, "partial" or
    "full")."""
    from dbt.cli.main import dbtRunner

    refused: list[str] = []   # why dbt could not parse partially, when it could not

    def on_event(msg) -> None:
        if msg.info.name in ("UnableToPartialParse", "PartialParsingNotEnabled"):
            refused.append(msg.info.name)

    scratch = Path(tempfile.mkdtemp(prefix="kinvolved-dbt-parse-"))
    seed = project_dir / "target" / "partial_parse.msgpack"
    try:
        private_dir(scratch)
        if seed.exists():
            shutil.copy(seed, scratch / seed.name)
        with parse_env():
            result = dbtRunner(callbacks=[on_event]).invoke([
                "parse", *QUIET_FLAGS, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
                "--target-path", str(scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result.success:
        raise RuntimeError(f"dbt parse failed in process: {type(result.exception).__name__}: "
                           f"{result.exception}")
    return result.result, ("full" if refused or not seed.exists() else "partial")


def _close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in the process after an invocation, so the
    build file is checkpointed (no write-ahead log) and released before it is read and published."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
        if env is not None:
            env.close()


def _selection(context, args: list[str]):
    manifest, translator, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest=manifest, dagster_dbt_translator=translator,
        runtime_selects=selects, runtime_excludes=excludes)
    return cleaned, params


def invoke(args: list[str], project_dir: Path, profiles_dir: Path, target_path: Path, on_event=None):
    """``dbt <args>`` in this process on a fresh copy of the project's manifest, quiet (``on_event``
    receives every event), DuckDB closed afterwards; dbt's ``dbtRunnerResult``."""
    from dbt.cli.main import dbtRunner

    argv = [*QUIET_FLAGS, *args, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir),
            "--target-path", str(target_path)]
    with _INVOKE:
        manifest = project_manifest(project_dir, profiles_dir)
        try:
            return dbtRunner(manifest=manifest, callbacks=[on_event] if on_event else []).invoke(argv)
        finally:
            _close_duckdb()


def build_in_process(context, args: list[str], dbt, target_path: Path) -> InProcessBuild:
    """Run ``dbt <args>`` for the step of ``context`` in this process, on the project and profiles of
    the ``DbtCliResource`` ``dbt``. dbt's lines go to this process's stdout."""
    cleaned, params = _selection(context, args)
    project_dir = Path(dbt.project_dir)
    profiles_dir = Path(dbt.profiles_dir or dbt.project_dir)
    out = InProcessBuild()
    raw_results: list[dict] = []

    def on_event(msg) -> None:
        from dbt_common.events.functions import msg_to_dict

        level, name = msg.info.level, msg.info.name
        if level == "error":
            out.errors.append(msg.info.msg)
        if name in RESULT_EVENTS:
            raw_results.append(msg_to_dict(msg))
        if level in ("info", "warn", "error") and msg.info.msg:
            with _STDOUT:   # dbt's worker threads call back at once; a text stream is not thread-safe
                sys.stdout.write(msg.info.msg + "\n")
                sys.stdout.flush()

    indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
    result = invoke([*cleaned, *params.selection_args, *indirect], project_dir, profiles_dir, target_path,
                    on_event)
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception   # an interrupt (run terminated): not a build result
    if result.exception is not None:
        out.errors.append(f"dbt could not run: {type(result.exception).__name__}: {result.exception}")
    out.success = bool(result.success)
    for raw in raw_results:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        out.events.extend(event.to_default_asset_events(
            manifest=params.manifest, dagster_dbt_translator=params.dagster_dbt_translator,
            context=context, target_path=target_path, project=params.dbt_project))
    return out
