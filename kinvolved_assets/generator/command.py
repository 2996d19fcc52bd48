"""``kinvolved generate``: write a deterministic synthetic district's deliveries."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from kinvolved_assets.generator.district_tables import SCALES


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "generate", help="write a synthetic district's OneRoster+ deliveries (deterministic by seed)",
        description="Simulate a district from the start of its school year and write one delivery per "
                    "weekday of [start, start+days): a bulk pull on day 1 and on the first delivery of each "
                    "month, nightly deltas otherwise.")
    p.add_argument("--customer", required=True, help="customer id (slug), e.g. demo")
    p.add_argument("--scale", choices=tuple(SCALES), default="tiny",
                   help="tiny 200 students/1 school, small 2,500/5, medium 50,000/60, large 250,000/300, xl "
                        "1,000,000/1,200")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", type=_date, required=True, help="first delivery date (YYYY-MM-DD)")
    p.add_argument("--days", type=_positive, required=True, help="number of calendar days to cover")
    p.add_argument("--out", type=Path, required=True, help="folder for the deliveries")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--zip", dest="fmt", action="store_const", const="zip",
                     help="one ZIP per delivery (default)")
    fmt.add_argument("--loose", dest="fmt", action="store_const", const="loose",
                     help="one folder of CSVs per delivery")
    p.add_argument("--truth", type=Path, default=None,
                   help="also write student_attendance.parquet and customer_config.yaml to this folder")
    p.add_argument("--quirks", action="store_true",
                   help="BOM, CRLF, quoted fields, file name variants, missing manifests, metadata.* "
                        "columns, TRUE/FALSE")
    p.add_argument("--school-year", type=int, default=None,
                   help="ending year of the school year (default: from --start)")
    p.add_argument("--oneroster", choices=("1.1", "1.2"), default="1.1",
                   help="OneRoster version of the export (1.2: users.csv without role/orgSourcedIds, plus "
                        "roles.csv)")
    p.add_argument("--schools", type=_positive, default=None, help="number of schools (default: the scale's)")
    p.add_argument("--period-only-schools", type=int, default=0,
                   help="the first N schools take attendance per class period only (no daily codes); the "
                        "truth folder then also holds period_days.parquet")
    p.add_argument("--years", type=_positive, default=1,
                   help="school years to simulate from --school-year on (rollover two weeks before each next "
                        "year)")
    p.set_defaults(func=run, fmt="zip")
    return p


def run(args: argparse.Namespace) -> int:
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.paths import UnsafePathError

    try:
        result = generate(args.customer, args.scale, args.seed, args.start, args.days, args.out,
                          fmt=args.fmt or "zip", truth=args.truth, quirks=args.quirks,
                          school_year=args.school_year, oneroster=args.oneroster, schools=args.schools,
                          period_only_schools=args.period_only_schools, years=args.years)
    except (UnsafePathError, ValueError) as exc:
        print(f"kinvolved generate: {exc}", file=sys.stderr)
        return 2
    bulk = sum(1 for d in result.deliveries if d.mode == "bulk")
    count = len(result.deliveries)
    print(f"{count} deliveries ({bulk} bulk, {count - bulk} delta) in {args.out} "
          f"for {args.customer} (scale {args.scale}, seed {args.seed}, school year {result.school_year}) "
          f"in {result.elapsed_seconds:.1f}s")
    for entity, n in sorted(result.counts.items()):
        print(f"  {entity:18s} {n:>12,d} rows")
    if result.truth_path:
        print(f"truth: {result.truth_path} ({result.truth_rows:,d} rows)")
    return 0
