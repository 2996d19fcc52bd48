"""``kinvolved onboard CUSTOMER DELIVERY_FILE``: load a new customer's schools and absence codes from a first
delivery (the onboarding job), then print them with the school year check and the
``licensed_schools`` block to paste into the customer's config."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .runs import home_dir, instance_for, quiet_runs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("onboard", help="load a new customer's schools and absence codes from a delivery")
    p.add_argument("customer")
    p.add_argument("delivery_file", help="a ZIP or folder of OneRoster+ CSVs")
    p.set_defaults(func=cmd_onboard)


def cmd_onboard(args) -> int:
    from kinvolved_assets.customers import load_customer_configs

    home = home_dir()
    loaded = load_customer_configs()
    customer = loaded.customers.get(args.customer)
    if customer is None:
        problems = [str(e) for e in loaded.errors if e.file.split(".")[0] == args.customer]
        print(f"customer {args.customer!r} has no valid config in customer_configs/"
              + (": " + "; ".join(problems) if problems else " (see docs/onboarding.md)"), file=sys.stderr)
        return 2
    source = Path(args.delivery_file)
    if not source.exists():
        print(f"delivery {source} does not exist", file=sys.stderr)
        return 2
    target, delivery = _land(customer, home, source)
    if delivery is None:
        print(f"{source.name} is not a ZIP or a folder of CSV files", file=sys.stderr)
        return 2
    result = _run_onboarding(customer, home, delivery)
    if not result.success:
        print(f"onboarding run {result.run_id} failed: run `kinvolved validate {source}` for the findings",
              file=sys.stderr)
        return 1
    schools, codes = _onboarded_rows(customer.paths(home), delivery.delivery_date)
    _print_onboarding(customer, source, target, delivery, schools, codes)
    return 0


def _land(customer, home: Path, source: Path):
    """The delivery copied into the customer's landing folder; (its path there, the delivery found, or
    None)."""
    from kinvolved_assets.delivery.landing import find_deliveries

    landing = customer.landing_dir(home)
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / source.name
    if source.resolve() != target.resolve():
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    return target, next((d for d in find_deliveries(landing, customer.tz) if d.name == target.name), None)


def _run_onboarding(customer, home: Path, delivery):
    """The onboarding job (orgs and absence codes only) on the delivery's partition, in this process."""
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.defs.keys import ONBOARD_JOB
    from kinvolved_assets.defs.partitions import delivery_key

    defs = build_definitions(home=home, settle_seconds=0)
    job = defs.resolve_job_def(ONBOARD_JOB)
    with quiet_runs(home):
        return job.execute_in_process(
            partition_key=delivery_key(customer.customer_id, delivery.delivery_date),
            run_config={"ops": {"oneroster_delivery": {"config": {"delivery_file": delivery.name}}}},
            instance=instance_for(home), raise_on_error=False,
        )


def _onboarded_rows(paths, delivery_date: str) -> tuple[list, list]:
    """(schools and the district, absence codes) of the onboarded delivery's raw Parquet."""
    import duckdb

    from kinvolved_assets.paths import partition_files

    def latest(entity: str) -> Path | None:   # the onboarded delivery: the latest of its date
        found = [f for day, _, f in partition_files(paths.raw / entity) if day == delivery_date]
        return found[-1] if found else None

    con = duckdb.connect()
    schools = con.execute(
        "select sourcedId, coalesce(identifier, ''), name, type from read_parquet(?) "
        "where status is distinct from 'tobedeleted' and type in ('school', 'district') order by type, "
        "sourcedId",
        [str(latest("orgs"))],
    ).fetchall()
    codes_file = latest("absence_codes")
    codes = con.execute(
        "select title, sourcedId, absent, excused, coalesce(schoolSourcedId, '(district)'), "
        "coalesce(category, ''), coalesce(dayFraction, case when absent then 1 else 0 end) "
        "from read_parquet(?) order by title, sourcedId", [str(codes_file)],
    ).fetchall() if codes_file is not None else []
    return schools, codes


def _print_onboarding(customer, source: Path, target: Path, delivery, schools: list, codes: list) -> None:
    from kinvolved_assets.oneroster.findings import printable

    print(f"Onboarding {customer.customer_id} from {source.name} (delivery {delivery.delivery_date})\n")
    for title, kinds in (("Schools found", ("school",)),
                         ("District (not a school, never licensed)", ("district",))):
        rows = [s for s in schools if s[3] in kinds]
        print(f"{title} ({len(rows)}):")
        print(f"  {'sourcedId':<24} {'identifier':<14} {'type':<9} name")
        for sid, ident, name, kind in rows:
            print(printable(f"  {sid:<24} {ident:<14} {kind:<9} {name}"))
    print(f"\nAbsence codes ({len(codes)}):")
    print(f"  {'code':<8} {'sourcedId':<20} {'absent':<7} {'excused':<8} {'fraction':<9} {'category':<18} "
          "school")
    for title, sid, absent, excused, school, category, fraction in codes:
        print(f"  {title:<8} {sid:<20} {str(absent).lower():<7} {str(excused).lower():<8} {fraction:<9} "
              f"{category:<18} {school}")
    print("\n" + _school_year_line(target, customer))
    print(f"\nPaste into customer_configs/{customer.customer_id}.yaml (remove the schools that are not "
          "licensed):")
    print("licensed_schools:")
    for sid, ident, name, kind in schools:
        if kind == "school":
            print(printable(f"  - {yaml_string(sid)}  # {ident} {name}".rstrip()))


def _school_year_line(delivery_path: Path, customer) -> str:
    """The configured school year resolved by the delivery's academic sessions (docs/oneroster-plus.md)."""
    import tempfile

    from kinvolved_assets.oneroster.delivery_files import open_delivery, school_year_findings

    with open_delivery(delivery_path) as delivery, tempfile.TemporaryDirectory(prefix="kv-onboard-") as tmp:
        if "academic_sessions" not in delivery.files:
            return (f"School year {customer.school_year}: the delivery has no academicSessions.csv to "
                    "check it against.")
        results = {"academic_sessions": delivery.load("academic_sessions", Path(tmp), "2000-01-01")}
        found = school_year_findings(results, customer)
    if not found:
        return f"School year {customer.school_year}: matches the delivery's schoolYear session."
    f = found[0]
    return f"School year {customer.school_year}: {f.severity.upper()} {f.rule}: {f.message}"


def yaml_string(value: str) -> str:
    """``value`` as a YAML scalar that reads back as this string: quoted when plain YAML would read
    it as something else (a number such as ``2`` or ``0012``, true, null, a date)."""
    import json

    import yaml

    try:
        plain = yaml.safe_load(value) == value
    except yaml.YAMLError:
        plain = False
    return value if plain and value.strip() == value and "#" not in value else json.dumps(value)
