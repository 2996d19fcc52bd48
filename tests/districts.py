"""Generated test districts, shared by the test suites: a customer's config + deliveries written into a
KINVOLVED_HOME, and its marts read back against the generator's ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import yaml

CUMULATIVE_COLUMNS = "student_sourced_id, school_sourced_id, days_enrolled, days_absent"


def add_customer(home: Path, config_dir: Path, customer_id: str, *, scale: str = "tiny", seed: int = 7,
                 school_year: int = 2026, start: dt.date | None = None, days: int = 5, fmt: str = "zip",
                 quirks: bool = False, generate_deliveries: bool = True, oneroster: str = "1.1",
                 schools: int | None = None, period_only_schools: int = 0, **overrides):
    """Write ``customer_configs/<id>.yaml`` (the generator's suggested config + ``overrides``) and,
    unless told not to, the customer's deliveries (a ``oneroster`` 1.1 or 1.2 export) into its landing
    folder and its truth under ``home/truth/<id>``. Returns the generator's result (None without
    deliveries)."""
    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.generator.config import suggested_config
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.paths import CustomerPaths

    config = suggested_config(customer_id, scale, seed, school_year, schools)
    config.update(overrides)
    (config_dir / f"{customer_id}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if not generate_deliveries:
        return None
    start = start or build_calendar(school_year).start
    return generate(customer_id, scale, seed, start, days,
                    CustomerPaths.for_customer(customer_id, home).landing,
                    fmt=fmt, truth=home / "truth" / customer_id, quirks=quirks, school_year=school_year,
                    oneroster=oneroster, schools=schools, period_only_schools=period_only_schools)


def latest_cumulative(marts: duckdb.DuckDBPyConnection, home: Path, customer_id: str) -> tuple[list, list]:
    """(marts, truth): student x school days enrolled and absent, sorted, from the customer's
    ``msr_student_cumulative_attendance`` and from its truth at the latest as-of date."""
    truth_file = str(home / "truth" / customer_id / "student_attendance.parquet")
    truth = duckdb.connect().execute(
        f"select {CUMULATIVE_COLUMNS} from read_parquet(?) "
        "where as_of_date = (select max(as_of_date) from read_parquet(?)) order by all",
        [truth_file] * 2).fetchall()
    got = marts.execute(f"select {CUMULATIVE_COLUMNS} from msr_student_cumulative_attendance order by "
                        "all").fetchall()
    return got, truth


class CustomerFolders:
    """For a test site with ``home``, ``config_dir`` and ``generated`` (customer -> generator result):
    add generated customers and find their folders (the product's ``CustomerPaths``)."""

    def add_customer(self, customer_id: str, **options):
        """Config + deliveries + truth of a generated district (``add_customer`` options)."""
        result = add_customer(self.home, self.config_dir, customer_id, **options)
        if result is not None:
            self.generated[customer_id] = result
        return result

    def landing(self, customer_id: str) -> Path:
        from kinvolved_assets.paths import CustomerPaths

        return CustomerPaths.for_customer(customer_id, self.home).landing

    def warehouse(self, customer_id: str) -> Path:
        from kinvolved_assets.paths import CustomerPaths

        return CustomerPaths.for_customer(customer_id, self.home).warehouse
