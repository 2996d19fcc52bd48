"""``kinvolved configs``: validate every customer config file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("configs", help="validate every customer config file")
    p.set_defaults(func=cmd_configs)


def cmd_configs(args) -> int:
    from kinvolved_assets.customers import config_dir, load_customer_configs

    loaded = load_customer_configs()
    for cid, cfg in sorted(loaded.customers.items()):
        print(f"ok     {cid}: {cfg.name} ({cfg.sis}, {cfg.flow}, {cfg.timezone}, "
              f"{len(cfg.licensed_schools)} licensed schools)")
    for error in loaded.errors:
        print(f"ERROR  {error}")
    print(f"{len(loaded.customers)} valid, {len(loaded.errors)} problems in {config_dir()}")
    return 1 if loaded.errors else 0
