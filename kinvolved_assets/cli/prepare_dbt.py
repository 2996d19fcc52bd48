"""``kinvolved prepare-dbt``: parse the dbt project once (the manifest the Dagster definitions read)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare-dbt", help="parse the dbt project (writes dbt_project/target/manifest.json)")
    p.set_defaults(func=cmd_prepare_dbt)


def cmd_prepare_dbt(args) -> int:
    from kinvolved_assets.defs.dbt_project import prepare_manifest

    path = prepare_manifest(force=True)
    print(f"dbt manifest ready: {path}")
    return 0
