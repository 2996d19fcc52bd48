"""Where runtime data lives. Every customer path is derived from a validated slug only.

Layout under ``KINVOLVED_HOME`` (default ``./data``)::

    landing/<customer>/<drop>                      what the district sends (ZIP, folder or loose CSVs)
    archive/<customer>/<delivery_date>/<drop>      original bytes + .sha256, never deleted
    warehouse/<customer>/raw/<entity>/delivery_date=<D>/part-0.parquet
    warehouse/<customer>/raw/_files/<entity>/delivery_date=<D>/part-0.parquet   one row per delivered file
    warehouse/<customer>/rejects/<entity>/delivery_date=<D>/rejects.parquet
    warehouse/<customer>/reports/<delivery_date>/                                validation reports
    warehouse/<customer>/marts.duckdb                                            published marts
    warehouse/<customer>/build/                                                  marts being built (aside)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

# ASCII only and always used with fullmatch (``$`` would let a trailing newline through)
SLUG_RE = re.compile(r"[a-z][a-z0-9_]{1,39}", re.ASCII)
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class UnsafePathError(ValueError):
    """A customer id, date or path that would escape its folder."""


def kinvolved_home() -> Path:
    return Path(os.environ.get("KINVOLVED_HOME", "data")).resolve()


def check_slug(customer_id: str) -> str:
    if not isinstance(customer_id, str) or not SLUG_RE.fullmatch(customer_id):
        raise UnsafePathError(
            f"customer id {customer_id!r} is not a slug: use 2-40 characters, lowercase letters, "
            "digits and '_', starting with a letter"
        )
    return customer_id


def check_date(delivery_date: str) -> str:
    if not isinstance(delivery_date, str) or not DATE_RE.fullmatch(delivery_date):
        raise UnsafePathError(f"delivery date {delivery_date!r} is not YYYY-MM-DD")
    return delivery_date


def ensure_within(path: Path, root: Path) -> Path:
    """Resolve ``path`` (following symlinks) and require it to stay inside ``root``."""
    resolved = path.resolve()
    root_resolved = root.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError(f"path {path} resolves outside {root_resolved}")
    return resolved


class PartitionDirs(NamedTuple):
    raw: Path        # part-0.parquet: the delivery's rows
    files: Path      # part-0.parquet: one row per delivered file (dbt_contract.FILES_COLUMNS)
    rejects: Path    # rejects.parquet: the rows refused, with their line and rule


def partition_dirs(root: Path, entity: str, delivery_date: str) -> PartitionDirs:
    """The three partition folders of one entity delivery below ``root``: a customer's warehouse or a
    staging root laid out the same way (the only place that spells ``delivery_date=``)."""
    part = f"delivery_date={check_date(delivery_date)}"
    root = Path(root)
    return PartitionDirs(root / "raw" / entity / part, root / "raw" / "_files" / entity / part,
                         root / "rejects" / entity / part)


@dataclass(frozen=True)
class CustomerPaths:
    """All folders of one customer; constructed from a checked slug."""

    home: Path
    customer_id: str

    @classmethod
    def for_customer(cls, customer_id: str, home: Path | None = None) -> CustomerPaths:
        return cls(home=(home or kinvolved_home()).resolve(), customer_id=check_slug(customer_id))

    @property
    def landing(self) -> Path:
        return self.home / "landing" / self.customer_id

    @property
    def archive(self) -> Path:
        return self.home / "archive" / self.customer_id

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / self.customer_id

    @property
    def raw(self) -> Path:
        return self.warehouse / "raw"

    @property
    def rejects(self) -> Path:
        return self.warehouse / "rejects"

    @property
    def quarantine(self) -> Path:
        return self.warehouse / "quarantine"

    @property
    def reports(self) -> Path:
        return self.warehouse / "reports"

    @property
    def marts_db(self) -> Path:
        return self.warehouse / "marts.duckdb"

    @property
    def build_dir(self) -> Path:
        return self.warehouse / "build"

    def raw_partition(self, entity: str, delivery_date: str) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date).raw

    def files_partition(self, entity: str, delivery_date: str) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date).files

    def rejects_partition(self, entity: str, delivery_date: str) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date).rejects

    def archive_partition(self, delivery_date: str) -> Path:
        return self.archive / check_date(delivery_date)

    def report_dir(self, delivery_date: str) -> Path:
        return self.reports / check_date(delivery_date)
