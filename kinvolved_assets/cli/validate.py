"""``kinvolved validate PATH [--json] [--customer ID]``: check a delivery offline.

Exit codes: 0 no errors, 1 the delivery has errors, 2 usage problems.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kinvolved_assets.oneroster.discover import DeliveryLimits
from kinvolved_assets.paths import UnsafePathError, check_slug
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("validate", help="validate a OneRoster+ delivery (ZIP or folder) offline")
    p.add_argument("path", type=Path, help="the delivery: a ZIP, a folder of CSVs or one CSV")
    p.add_argument("--json", action="store_true", help="print JSON instead of the readable report")
    p.add_argument("--customer", default=None, help="customer id (slug), shown in the report")
    p.add_argument("--first", type=int, default=5, help="findings listed per rule in the text report")
    p.add_argument("--no-expectations", action="store_true",
                   help="skip the expectation suites (contract only)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    customer = args.customer
    if customer is not None:
        try:
            check_slug(customer)
        except UnsafePathError as exc:
            print(f"kinvolved validate: {exc}", file=sys.stderr)
            return 2
    path: Path = args.path
    if not path.exists():
        print(f"kinvolved validate: {path} does not exist", file=sys.stderr)
        return 2
    report = validate_delivery(path, DeliveryLimits(), customer=customer,
                               expectations=not args.no_expectations)
    print(to_json(report, customer) if args.json else to_text(report, customer, first_n=max(1, args.first)))
    return 0 if report.ok else 1
