"""Where runtime data lives. Every customer path is derived from a validated slug only.

Layout under ``KINVOLVED_HOME`` (default ``./data``)::

    landing/<customer>/<delivery>                      what the district sends (ZIP, folder or loose CSVs)
    archive/<customer>/<delivery_date>/<delivery>      original bytes + .sha256, never deleted
    warehouse/<customer>/raw/<entity>/delivery_date=<D>/seq=<N>/part-0.parquet
    warehouse/<customer>/raw/_files/<entity>/delivery_date=<D>/seq=<N>/part-0.parquet   one row per delivered
        file
    warehouse/<customer>/rejects/<entity>/delivery_date=<D>/seq=<N>/rejects.parquet
    warehouse/<customer>/reports/<delivery_date>/[seq=<N>/]                  validation reports
    warehouse/<customer>/ledger.sqlite                                       the delivery ledger

``<N>`` is the delivery's arrival sequence in the ledger: two deliveries of one date never share a
partition, and they apply in (date, seq) order. A partition without ``seq=`` (written before the
sequence was part of the layout) counts as sequence 0 of its date until the customer's next writer
moves it into its delivery's ``seq=`` folder (``legacy_layout.upgrade_layout``).
    warehouse/<customer>/marts.duckdb                                        published marts
    warehouse/<customer>/build/                                              marts being built, dbt's target
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
SEQ_RE = re.compile(r"seq=([0-9]+)", re.ASCII)


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


def delivery_part(base: Path, delivery_date: str, seq: int | None = None) -> Path:
    """The partition folder of one delivery below ``base`` (an entity folder of raw/, raw/_files/ or
    rejects/); ``seq`` None: the date's folder (which holds every delivery of that date). The only place
    that spells ``delivery_date=`` and ``seq=``."""
    day = base / f"delivery_date={check_date(delivery_date)}"
    return day if seq is None else day / f"seq={int(seq)}"


class PartitionDirs(NamedTuple):
    raw: Path        # part-0.parquet: the delivery's rows
    files: Path      # part-0.parquet: one row per delivered file (dbt_contract.FILES_COLUMNS)
    rejects: Path    # rejects.parquet: the rows refused, with their line and rule


def partition_dirs(root: Path, entity: str, delivery_date: str, seq: int | None = None) -> PartitionDirs:
    """The three partition folders of one entity delivery below ``root``: a customer's warehouse (with the
    delivery's ``seq``) or a staging root laid out the same way (``seq`` None: the date's folder)."""
    root = Path(root)
    return PartitionDirs(delivery_part(root / "raw" / entity, delivery_date, seq),
                         delivery_part(root / "raw" / "_files" / entity, delivery_date, seq),
                         delivery_part(root / "rejects" / entity, delivery_date, seq))


def partition_files(base: Path, name: str = "part-0.parquet") -> list[tuple[str, int, Path]]:
    """(delivery date, seq, file) of every delivery's file below ``base``, in application order."""
    found = [(f.parent.name.split("=", 1)[1], 0, f) for f in base.glob(f"delivery_date=*/{name}")]
    found += [(f.parent.parent.name.split("=", 1)[1], int(f.parent.name.split("=", 1)[1]), f)
              for f in base.glob(f"delivery_date=*/seq=*/{name}") if SEQ_RE.fullmatch(f.parent.name)]
    return sorted(found)


def before(position: tuple[str, int], delivery_date: str, seq: int | None) -> bool:
    """Whether a delivery at ``position`` (date, seq) applies before the delivery (delivery_date, seq);
    ``seq`` None: a delivery not yet in the ledger, after every delivery of its date."""
    day, n = position
    return day < delivery_date or (day == delivery_date and (seq is None or n < seq))


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

    @property
    def dbt_target(self) -> Path:
        """Where builds kept dbt's parse state until dbt ran in the build's process (removed by the
        next build; a build's target is ``build/target``)."""
        return self.warehouse / "dbt_target"

    def raw_partition(self, entity: str, delivery_date: str, seq: int | None = None) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date, seq).raw

    def files_partition(self, entity: str, delivery_date: str, seq: int | None = None) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date, seq).files

    def rejects_partition(self, entity: str, delivery_date: str, seq: int | None = None) -> Path:
        return partition_dirs(self.warehouse, entity, delivery_date, seq).rejects

    def archive_partition(self, delivery_date: str) -> Path:
        return self.archive / check_date(delivery_date)

    @property
    def archive_incoming(self) -> Path:
        """Where a delivery's bytes are copied before they are renamed into their date's folder: the one
        place recovery looks for what a killed copy left (not every date's folder, after every delivery)."""
        return self.archive / ".incoming"

    def report_dir(self, delivery_date: str, seq: int | None = None) -> Path:
        """The first delivery of a date reports in ``reports/<date>/``; a later delivery of the same
        date (``seq`` given) in ``reports/<date>/seq=<N>/``, so no report overwrites another."""
        day = self.reports / check_date(delivery_date)
        return day if seq is None else day / f"seq={int(seq)}"
