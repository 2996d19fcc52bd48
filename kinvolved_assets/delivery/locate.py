"""Where a delivery's files are: the archived copy of the ledger's bytes, an operator's landing path, the
ledger's accepted delivery of a date, the archive, or the landing folder (archived first when only there).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.landing import (
    DeliveryChanged,
    LandedDelivery,
    archive_delivery,
    delivery_sha256,
    find_archived,
    find_deliveries,
    incomplete_reason,
)
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.paths import CustomerPaths, check_date, ensure_within


class DeliveryNotFound(FileNotFoundError):
    pass



class Located(NamedTuple):
    path: Path                 # the archived delivery to read
    sha256: str
    name: str                  # the delivery's name as delivered
    date_source: str | None    # name | arrival; None when only the archive knows it
    # a folder just archived: (size, sha256) of each file as copied, so the reader does not hash it again
    file_hashes: dict[str, tuple[int, str]] | None = None



def locate_delivery(config: CustomerConfig, paths: CustomerPaths, delivery_date: str,
                delivery_hint: str | None = None, sha256: str | None = None) -> Located:
    """Find a delivery's files, archiving them first if they are still only in landing.

    Order: the delivery of those bytes (``sha256``, the ledger's choice), else an explicit landing path
    (``delivery_hint``), else the ledger's latest accepted delivery of that date, else the archive for that
    date, else the landing folder's deliveries dated that day (exactly one must match).
    """
    check_date(delivery_date)
    landing = config.landing_dir(paths.home)
    if sha256:
        archived = find_archived(paths, delivery_date, sha256)
        if archived is not None:
            return Located(archived, sha256, archived.name, None)
        # the landing entry the run was requested for (the sensor's): archived and verified in one read
        entries = sorted(find_deliveries(landing, config.tz, date=delivery_date),
                         key=lambda d: d.name != delivery_hint)
        for entry in entries:
            if delivery_hint and entry.name == delivery_hint and not incomplete_reason(entry):
                try:
                    return _archive(entry, paths, sha256)
                except DeliveryNotFound:   # changed since the sensor hashed it: not these bytes
                    continue
            if not incomplete_reason(entry) and delivery_sha256(entry) == sha256:
                return _archive(entry, paths, sha256)
        raise DeliveryNotFound(f"delivery {sha256[:12]} of {delivery_date} is neither archived nor in "
                               f"{landing}")
    if delivery_hint:
        return _locate_hint(config, paths, landing, delivery_hint)
    with Ledger(paths) as ledger:
        accepted = [d for d in ledger.same_date(delivery_date) if d.state == "ingested"]
    for delivery in reversed(accepted):
        archived = find_archived(paths, delivery_date, delivery.sha256)
        if archived is not None:
            return Located(archived, delivery.sha256, delivery.file_name, delivery.date_source)
    archived = find_archived(paths, delivery_date)
    if archived is not None:
        return Located(archived, _sha_from_marker(archived), archived.name, None)
    dated = find_deliveries(landing, config.tz, date=delivery_date)
    if not dated:
        raise DeliveryNotFound(
            f"no delivery dated {delivery_date} for customer {config.customer_id} in the archive or in "
            f"{landing}"
        )
    if len(dated) > 1:
        raise DeliveryNotFound(
            f"{len(dated)} deliveries in {landing} are dated {delivery_date} "
            f"({', '.join(d.name for d in dated)}); "
            "launch the run with run config `delivery_file` naming one"
        )
    return _archive(dated[0], paths)


def _locate_hint(config: CustomerConfig, paths: CustomerPaths, landing: Path, delivery_hint: str) -> Located:
    hinted = ensure_within(Path(delivery_hint) if os.path.isabs(delivery_hint) else landing / delivery_hint,
                           paths.home)
    try:
        first = hinted.relative_to(landing).parts[0]
    except (ValueError, IndexError):
        first = None
    # a folder or ZIP delivery is one entry of the landing folder; loose CSVs of a day form one delivery
    own_entry = first is not None and ((landing / first).is_dir() or first.lower().endswith(".zip"))
    near = find_deliveries(landing, config.tz, names={first} if own_entry else None)
    matches = [d for d in near if hinted in (d.root, *d.paths)
               or (d.kind == "loose" and hinted == landing / d.name)]
    if not matches:
        archived = (ensure_within(hinted, paths.archive) if str(hinted).startswith(str(paths.archive))
                    else None)
        if archived and archived.exists():
            return Located(archived, _sha_from_marker(archived), archived.name, None)
        raise DeliveryNotFound(f"delivery {delivery_hint!r} is not in {landing}")
    return _archive(matches[0], paths)


def _archive(delivery: LandedDelivery, paths: CustomerPaths, sha: str | None = None) -> Located:
    """The delivery archived; ``sha`` (already known) is checked on the bytes while they are copied, so
    the sha256 the ledger records is the one of the bytes archived."""
    reason = incomplete_reason(delivery)
    if reason:
        raise DeliveryNotFound(f"delivery {delivery.name} is not ready: {reason}")
    sha = sha or delivery_sha256(delivery)
    hashes: dict[str, tuple[int, str]] = {}
    try:
        archived = archive_delivery(delivery, paths, sha, hashes)
        return Located(archived, sha, delivery.name, delivery.date_source, hashes or None)
    except DeliveryChanged as exc:
        raise DeliveryNotFound(f"delivery {delivery.name} is not ready: {exc}") from None


def _sha_from_marker(archived: Path) -> str:
    marker = archived.with_name(archived.name + ".sha256")
    return marker.read_text().split()[0]
