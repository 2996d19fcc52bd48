"""``kinvolved``: the single command-line entry point (``kinvolved_assets.cli.main:main``).

Each subcommand lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parser, which receives the parsed args and returns the exit code.
Exit codes: 0 ok, 1 the input has errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMAND_MODULES = (
    "kinvolved_assets.generator.command",       # generate
    "kinvolved_assets.cli.validate",            # validate
    "kinvolved_assets.cli.demo",                # demo
    "kinvolved_assets.cli.ingest",              # ingest
    "kinvolved_assets.cli.backfill",            # backfill
    "kinvolved_assets.cli.onboard",             # onboard
    "kinvolved_assets.cli.configs",             # configs
    "kinvolved_assets.cli.prepare_dbt",         # prepare-dbt
    "kinvolved_assets.rest.command",            # pull, serve-oneroster
    "kinvolved_assets.report.command",          # report
    "kinvolved_assets.dbt_docs",                # docs
    "kinvolved_assets.cli.deliveries",          # deliveries, reingest, supersede
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinvolved", description="Kinvolved OneRoster+ attendance platform")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    from kinvolved_assets.quiet import quiet_dagster_notices

    quiet_dagster_notices()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
