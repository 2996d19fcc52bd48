"""``kinvolved pull CUSTOMER [--full]`` and ``kinvolved serve-oneroster --district DIR``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull",
                       help="pull a REST customer's OneRoster API into a delivery in its landing folder")
    p.add_argument("customer")
    p.add_argument("--full", action="store_true",
                   help="a full pull (default: a delta since the last ingested pull)")
    p.add_argument("--ingest", action="store_true", help="then ingest the landing folder and build marts")
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser("serve-oneroster", help="serve a generated district as a OneRoster API on 127.0.0.1")
    p.add_argument("--district", required=True,
                   help="a folder of generated deliveries (kinvolved generate --out)")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--as-of", help="replay the deliveries up to this date (default: the last one)")
    p.add_argument("--auth", choices=("oauth2_client_credentials", "oauth1_hmac_sha256"),
                   default="oauth2_client_credentials")
    p.add_argument("--client-id-env", default="ONEROSTER_CLIENT_ID",
                   help="environment variable holding the client id the server accepts")
    p.add_argument("--client-secret-env", default="ONEROSTER_CLIENT_SECRET",
                   help="environment variable holding the client secret the server accepts")
    p.add_argument("--admin", action="store_true",
                   help="enable POST /_admin/faults and /_admin/as-of (tests)")
    p.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)")
    p.set_defaults(func=cmd_serve)


def cmd_pull(args) -> int:
    from kinvolved_assets.customers import load_customer_configs
    from kinvolved_assets.paths import kinvolved_home
    from kinvolved_assets.rest.client import PullError
    from kinvolved_assets.rest.pull import pull_customer

    customer = load_customer_configs().customers.get(args.customer)
    if customer is None:
        print(f"customer {args.customer!r} has no valid config in customer_configs/", file=sys.stderr)
        return 2
    home = kinvolved_home()
    try:
        result = pull_customer(customer, home, force_full=args.full)
    except PullError as exc:
        print(f"pull failed: {exc}", file=sys.stderr)
        return 1
    total = sum(result.rows.values())
    print(f"{result.mode} pull {result.pull_id} ({result.reason}): {total} records in {result.pages} pages, "
          f"{result.requests} requests, {result.seconds:.1f}s")
    for entity, rows in result.rows.items():
        print(f"  {entity:<18} {rows:>9}")
    print(f"delivery {result.delivery_date}: {result.delivery}")
    if not args.ingest:
        return 0
    from kinvolved_assets.cli.ingest import cmd_ingest

    return cmd_ingest(argparse.Namespace(customer=args.customer, no_marts=False))


def cmd_serve(args) -> int:
    from kinvolved_assets.rest.server import ProviderServer

    client_id, secret = os.environ.get(args.client_id_env), os.environ.get(args.client_secret_env)
    if not client_id or not secret:
        print(f"set {args.client_id_env} and {args.client_secret_env} to the credentials the server accepts",
              file=sys.stderr)
        return 2
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    try:
        server = ProviderServer(Path(args.district), client_id, secret, as_of=as_of, port=args.port,
                                auth=args.auth, admin=args.admin)
    except (ValueError, OSError) as exc:
        print(f"cannot serve {args.district}: {exc}", file=sys.stderr)
        return 2
    with server:
        state = server.provider.state
        print(f"serving {len(state.deliveries)} deliveries as of {state.as_of} on {server.url} "
              "(1.1: /ims/oneroster/v1p1, 1.2: /ims/oneroster/rostering/v1p2, token: "
              f"{server.url}/oauth/token)",
              flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return 0
