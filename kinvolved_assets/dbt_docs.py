"""``kinvolved docs [--customer ID] [--serve] [--port N]``: dbt docs of the project generated against a
customer's published marts (a copy, so the live file is never opened for writing), served locally.

Output: ``KINVOLVED_HOME/docs/<customer>/target/`` (``index.html``, ``manifest.json``, ``catalog.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("docs",
                              help="generate dbt docs against a customer's published marts (and serve them)")
    p.add_argument("--customer", default="demo")
    p.add_argument("--serve", action="store_true", help="serve the docs on 127.0.0.1 after generating them")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_docs)


def generate_docs(customer, home: Path) -> Path:
    from kinvolved_assets.defs.marts import DBT_PROJECT_DIR, dbt_executable

    paths = customer.paths(home)
    out = home / "docs" / customer.customer_id
    shutil.rmtree(out, ignore_errors=True)
    (out / "tmp").mkdir(parents=True)
    copy = out / "marts.duckdb"
    shutil.copyfile(paths.marts_db, copy)
    env = {**os.environ, "KINVOLVED_MARTS_DB": str(copy), "KINVOLVED_DUCKDB_TEMP_DIR": str(out / "tmp"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    dbt_vars = {**customer.dbt_vars(), "raw_root": str(paths.raw)}
    proc = subprocess.run(
        [dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--target-path", str(out / "target"), "--vars", json.dumps(dbt_vars),
         "--quiet"],
        env=env, capture_output=True, text=True, check=False, cwd=DBT_PROJECT_DIR)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-1000:]}")
    return out / "target"


def cmd_docs(args: argparse.Namespace) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.defs.marts import DBT_PROJECT_DIR, dbt_executable
    from kinvolved_assets.paths import kinvolved_home

    customer = load_customer_configs().customers.get(args.customer)
    if customer is None:
        print(f"customer {args.customer!r} has no valid config in customer_configs/", file=sys.stderr)
        return 2
    home = kinvolved_home()
    if not customer.paths(home).marts_db.exists():
        print(f"{customer.customer_id} has no published marts yet: run `make demo` or `kinvolved ingest "
              f"{customer.customer_id}` first", file=sys.stderr)
        return 1
    try:
        target = generate_docs(customer, home)
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"dbt docs of {customer.customer_id}'s marts: {target / 'index.html'}")
    if not args.serve:
        return 0
    print(f"serving on http://127.0.0.1:{args.port} (Ctrl-C stops)", flush=True)
    try:
        return subprocess.call([dbt_executable(), "docs", "serve", "--project-dir", str(DBT_PROJECT_DIR),
                                "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target),
                                "--host", "127.0.0.1", "--port", str(args.port), "--no-browser"],
                               cwd=DBT_PROJECT_DIR)
    except KeyboardInterrupt:
        return 0
