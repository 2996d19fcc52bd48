"""Operator subcommands over a customer's delivery ledger: deliveries, reingest, supersede."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deliveries", help="list a customer's delivery ledger in application order")
    p.add_argument("customer")
    p.set_defaults(func=cmd_deliveries)

    p = sub.add_parser("reingest", help="ingest one delivery of the ledger again (by seq, sha256 prefix or "
                                        "file name), then build marts")
    p.add_argument("customer")
    p.add_argument("delivery")
    p.set_defaults(func=cmd_reingest)

    p = sub.add_parser("supersede", help="mark a blocked or failed delivery replaced by its fixed version "
                                         "(never retried, never replayed)")
    p.add_argument("customer")
    p.add_argument("delivery")
    p.add_argument("--by",
                   help="the delivery that replaces it (seq, sha256 prefix or file name), for the record")
    p.set_defaults(func=cmd_supersede)


def _customer(customer_id: str):
    from kinvolved_assets.customers import load_customer_configs

    customer = load_customer_configs().customers.get(customer_id)
    if customer is None:
        print(f"customer {customer_id!r} has no valid config in customer_configs/", file=sys.stderr)
    return customer


def _one(ledger, customer_id: str, ref: str):
    found = ledger.find(ref)
    if len(found) == 1:
        return found[0]
    if not found:
        print(f"no delivery {ref!r} in the ledger of {customer_id} (`kinvolved deliveries {customer_id}` "
              "lists them: use the seq, a sha256 prefix of 6+ characters or the file name)", file=sys.stderr)
    else:
        print(f"{ref!r} names {len(found)} deliveries of {customer_id} (seq "
              f"{', '.join(str(d.seq) for d in found)}): use the seq", file=sys.stderr)
    return None


def cmd_deliveries(args) -> int:
    from kinvolved_assets.delivery.ledger import Ledger
    from kinvolved_assets.paths import kinvolved_home

    customer = _customer(args.customer)
    if customer is None:
        return 2
    with Ledger(customer.paths(kinvolved_home())) as ledger:
        rows = ledger.deliveries()
    print(f"{'date':<10}  {'seq':>4}  {'state':<10}  {'date from':<9}  {'sha256':<12}  {'rows':>9}  "
          f"{'errors':>6}  {'warn':>5}  {'tries':>5}  name")
    for d in rows:
        print(f"{d.delivery_date:<10}  {d.seq:>4}  {d.state:<10}  {d.date_source:<9}  {d.sha256[:12]:<12}  "
              f"{_n(d.rows):>9}  {_n(d.errors):>6}  {_n(d.warnings):>5}  {d.attempts:>5}  {d.file_name}")
        if d.note:
            print(f"{'':<12}note: {d.note}")
    print(f"{len(rows)} deliveries of {customer.customer_id}")
    return 0


def _n(value) -> str:
    return "-" if value is None else str(value)


def cmd_reingest(args) -> int:
    import os

    from kinvolved_assets.cli.runs import instance_for, quiet_runs, tell
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.keys import CUSTOMER_TAG
    from kinvolved_assets.defs.partitions import delivery_key
    from kinvolved_assets.delivery.ledger import Ledger
    from kinvolved_assets.delivery.lock import CustomerBusy, customer_lock
    from kinvolved_assets.local_runner import PID_TAG, run_ingest, run_marts
    from kinvolved_assets.paths import kinvolved_home

    customer = _customer(args.customer)
    if customer is None:
        return 2
    home = kinvolved_home()
    paths = customer.paths(home)
    with Ledger(paths) as ledger:
        delivery = _one(ledger, customer.customer_id, args.delivery)
    if delivery is None:
        return 2
    defs = build_definitions(home=home, settle_seconds=0)
    instance = instance_for(home)
    tags = {CUSTOMER_TAG: customer.customer_id, PID_TAG: str(os.getpid()),
            "kinvolved/reingest": str(delivery.seq)}
    config = {"ops": {"oneroster_delivery": {"config": {"sha256": delivery.sha256}}}}
    try:
        with customer_lock(paths, f"`kinvolved reingest` (pid {os.getpid()})", on_wait=tell), \
                quiet_runs(home) as log:
            result = run_ingest(defs, instance, delivery_key(customer.customer_id, delivery.delivery_date),
                                run_config=config, tags=tags)
            marts = run_marts(defs, instance, customer.customer_id, tags={PID_TAG: str(os.getpid())}) \
                if result.success else None
    except CustomerBusy as exc:
        print(str(exc), file=sys.stderr)
        return 1
    with Ledger(paths) as ledger:
        after = ledger.get(delivery.sha256)
    print(f"run output: {log}")
    print(f"{delivery.delivery_date} #{delivery.seq} {delivery.file_name}: {after.state}  run "
          f"{result.run_id}")
    if marts is not None:
        print(f"marts   {'ok' if marts.success else 'FAILED'}  run {marts.run_id}")
    return 0 if result.success and marts is not None and marts.success else 1


def cmd_supersede(args) -> int:
    from kinvolved_assets.delivery.ledger import Ledger
    from kinvolved_assets.delivery.lock import customer_lock
    from kinvolved_assets.paths import kinvolved_home

    customer = _customer(args.customer)
    if customer is None:
        return 2
    paths = customer.paths(kinvolved_home())
    with customer_lock(paths, "`kinvolved supersede`"), Ledger(paths) as ledger:
        delivery = _one(ledger, customer.customer_id, args.delivery)
        by = _one(ledger, customer.customer_id, args.by) if args.by else None
        if delivery is None or (args.by and by is None):
            return 2
        if delivery.state in ("ingested", "ingesting"):
            print(f"delivery #{delivery.seq} {delivery.file_name} is {delivery.state}: its data is in raw/, "
                  "so it cannot be superseded; send the correction as a new delivery (it applies after it in "
                  "(date, seq) order)", file=sys.stderr)
            return 1
        note = f"superseded by #{by.seq} {by.file_name}" if by else "superseded by the operator"
        ledger.set_state(delivery.sha256, "superseded", note=note)
    print(f"{delivery.delivery_date} #{delivery.seq} {delivery.file_name}: {delivery.state} -> superseded "
          f"({note})")
    return 0
