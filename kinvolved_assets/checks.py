"""The check types shared by ingest and the expectation suites (no logic, no imports above).

``ingest.ingest_delivery`` runs every ``Validator`` on a ``DeliveryContext`` and gathers the
``CheckOutcome``s; ``expectations.expectations_validator`` is one such validator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # annotations only
    from kinvolved_assets.customers import CustomerConfig
    from kinvolved_assets.oneroster.load import LoadResult
    from kinvolved_assets.paths import CustomerPaths


@dataclass
class CheckOutcome:
    """Result of one validation (contract or expectation suite) for one entity."""

    name: str
    passed: bool
    blocking: bool                      # a failure stops the delivery from being promoted
    metadata: dict = field(default_factory=dict)
    description: str = ""


@dataclass
class DeliveryContext:
    """What a validator sees: the delivery staged (not yet promoted) next to the current state."""

    customer: CustomerConfig
    paths: CustomerPaths          # the customer's folders; ``paths.raw`` holds the current state
    delivery_date: str
    staging_root: Path            # this delivery's raw/_files/rejects, same layout as the warehouse
    results: dict[str, LoadResult]   # every entity of the delivery (present or not)
    run_id: str


# A validator receives (entity, LoadResult, DeliveryContext) after every entity of the delivery
# has been loaded, and returns check outcomes for that entity.
Validator = Callable[[str, "LoadResult", DeliveryContext], Sequence[CheckOutcome]]
