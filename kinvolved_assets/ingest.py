"""Ingest one delivery of one customer: locate and archive the drop, load each entity into a staging
area, validate, then promote every partition into ``raw/`` only if nothing blocks (all or nothing).

Pure Python (no Dagster): the Dagster asset, the CLI and the benchmarks all call this.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery import (
    LandedDrop,
    archive_drop,
    drop_sha256,
    find_archived,
    find_drops,
    incomplete_reason,
)
from kinvolved_assets.oneroster.drop import DropLimits, LoadResult, open_drop
from kinvolved_assets.oneroster.findings import RULES, Finding
from kinvolved_assets.oneroster.spec import RAW_ENTITIES as ENTITIES
from kinvolved_assets.paths import CustomerPaths, check_date, ensure_within
from kinvolved_assets.permissions import private_dir, secure_tree

ENTITY_NAMES = tuple(e.name for e in ENTITIES)


class DeliveryNotFound(FileNotFoundError):
    pass


@dataclass
class CheckOutcome:
    """Result of one validation (contract or expectation suite) for one entity."""

    name: str
    passed: bool
    blocking: bool                      # a failure stops the delivery from being promoted
    metadata: dict = field(default_factory=dict)
    description: str = ""


@dataclass
class EntityOutcome:
    entity: str
    result: LoadResult
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return bool(getattr(self.result, "present", True))

    @property
    def blocked(self) -> bool:
        return any(c.blocking and not c.passed for c in self.checks)


@dataclass
class DeliveryOutcome:
    customer_id: str
    delivery_date: str
    drop_path: Path
    drop_sha256: str
    drop_findings: list[Finding]
    entities: dict[str, EntityOutcome]
    promoted: bool
    seconds: float
    report_path: Path | None = None
    # entities asked for that the drop's OneRoster version does not have (a 1.1 drop: roles,
    # user_profiles): not part of the delivery, reported as absent
    other_version_entities: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(o.blocked for o in self.entities.values())

    def blocking_summary(self) -> str:
        parts = []
        for name, outcome in self.entities.items():
            failed = [c.name for c in outcome.checks if c.blocking and not c.passed]
            if failed:
                parts.append(f"{name}: {', '.join(failed)}")
        return "; ".join(parts)


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
Validator = Callable[[str, LoadResult, DeliveryContext], Sequence[CheckOutcome]]
# A reporter writes the human-readable validation report of a delivery and returns its path.
Reporter = Callable[["DeliveryOutcome", DeliveryContext], Path]


def locate_drop(config: CustomerConfig, paths: CustomerPaths, delivery_date: str,
                drop_hint: str | None = None) -> tuple[Path, str]:
    """Find the drop of a delivery, archiving it first if it is still only in landing.

    Order: an explicit landing path (``drop_hint``), else the archive for that date, else the
    landing folder's drops dated that day (exactly one must match).
    """
    check_date(delivery_date)
    landing = config.landing_dir(paths.home)
    if drop_hint:
        hinted = ensure_within(Path(drop_hint) if os.path.isabs(drop_hint) else landing / drop_hint, paths.home)
        try:
            first = hinted.relative_to(landing).parts[0]
        except (ValueError, IndexError):
            first = None
        # a folder or ZIP drop is one entry of the landing folder; loose CSVs of a day form one drop
        own_entry = first is not None and ((landing / first).is_dir() or first.lower().endswith(".zip"))
        near = find_drops(landing, config.tz, names={first} if own_entry else None)
        matches = [d for d in near if hinted in (d.root, *d.paths)
                   or (d.kind == "loose" and hinted == landing / d.name)]
        if not matches:
            archived = ensure_within(hinted, paths.archive) if str(hinted).startswith(str(paths.archive)) else None
            if archived and archived.exists():
                return archived, _sha_from_marker(archived)
            raise DeliveryNotFound(f"drop {drop_hint!r} is not in {landing}")
        return _archive(matches[0], paths)
    archived = find_archived(paths, delivery_date)
    if archived is not None:
        return archived, _sha_from_marker(archived)
    dated = find_drops(landing, config.tz, date=delivery_date)
    if not dated:
        raise DeliveryNotFound(
            f"no delivery dated {delivery_date} for customer {config.customer_id} in the archive or in {landing}"
        )
    if len(dated) > 1:
        raise DeliveryNotFound(
            f"{len(dated)} drops in {landing} are dated {delivery_date} ({', '.join(d.name for d in dated)}); "
            "launch the run with run config `drop` naming one"
        )
    return _archive(dated[0], paths)


def _archive(drop: LandedDrop, paths: CustomerPaths) -> tuple[Path, str]:
    reason = incomplete_reason(drop)
    if reason:
        raise DeliveryNotFound(f"drop {drop.name} is not ready: {reason}")
    sha = drop_sha256(drop)
    return archive_drop(drop, paths, sha), sha


def _sha_from_marker(archived: Path) -> str:
    marker = archived.with_name(archived.name + ".sha256")
    return marker.read_text().split()[0]


def _remove_abandoned_staging(staging: Path, keep: str) -> None:
    """Staging folders of killed runs hold personal data outside raw/: drop them. A customer's
    ingest runs are serialized (dagster.yaml), so any other staging folder belongs to a dead run."""
    if staging.is_dir():
        for leftover in staging.iterdir():
            if leftover.name != keep:
                shutil.rmtree(leftover, ignore_errors=True)
    shutil.rmtree(staging / keep, ignore_errors=True)


def _partition_dirs(root: Path, entity: str, delivery_date: str) -> list[Path]:
    """The three partition folders of one entity delivery below a warehouse (or staging) root."""
    part = f"delivery_date={check_date(delivery_date)}"
    return [root / "raw" / entity / part, root / "raw" / "_files" / entity / part, root / "rejects" / entity / part]


def _replace_dir(src: Path | None, dest: Path) -> None:
    """Make ``dest`` become ``src`` (or disappear when src is None) with renames only."""
    trash = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    if dest.exists():
        os.replace(dest, trash)
    if src is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
    shutil.rmtree(trash, ignore_errors=True)


def promote(staging_root: Path, warehouse: Path, entity: str, delivery_date: str) -> None:
    for staged, final in zip(_partition_dirs(staging_root, entity, delivery_date),
                             _partition_dirs(warehouse, entity, delivery_date), strict=True):
        _replace_dir(staged if staged.exists() else None, final)


def contract_check(entity: str, result: LoadResult, drop_findings: Iterable[Finding]) -> CheckOutcome:
    """The OneRoster+ contract as a check: file-level errors block, rejected rows warn."""
    findings = list(result.findings)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    rules: dict[str, int] = {}
    for f in findings:
        rules[f"{f.severity}:{f.rule}"] = rules.get(f"{f.severity}:{f.rule}", 0) + 1
    fatal_drop = [f for f in drop_findings if f.severity == "error"]
    # a file-level error blocks even when the file was read (most rows rejected)
    file_errors = [f for f in errors if RULES.get(f.rule, ("", "row"))[1] == "file"]
    failed = bool(result.failed) or bool(fatal_drop) or bool(file_errors)
    return CheckOutcome(
        name="contract",
        passed=not failed,
        blocking=True,
        description="file readable, required columns present, rows typed (rejects quarantined)",
        metadata={
            "rows": int(result.rows or 0),
            "rejected_rows": int(result.rejected_rows or 0),
            "errors": len(errors) + len(fatal_drop),
            "warnings": len(warnings),
            "findings_by_rule": rules,
            "first_findings": [f.to_dict() for f in (fatal_drop + errors + warnings)[:10]],
        },
    )


def ingest_delivery(
    config: CustomerConfig,
    paths: CustomerPaths,
    delivery_date: str,
    *,
    run_id: str,
    drop_hint: str | None = None,
    entities: Sequence[str] = ENTITY_NAMES,
    validators: Sequence[Validator] = (),
    reporter: Reporter | None = None,
    limits: DropLimits | None = None,
) -> DeliveryOutcome:
    started = time.perf_counter()
    drop_path, sha = locate_drop(config, paths, delivery_date, drop_hint)
    staging_root = paths.warehouse / "staging" / run_id
    private_dir(paths.warehouse)
    _remove_abandoned_staging(staging_root.parent, keep=run_id)
    staging_root.mkdir(parents=True, mode=0o700)
    outcomes: dict[str, EntityOutcome] = {}
    other_version: list[str] = []
    try:
        with open_drop(drop_path, limits or DropLimits()) as drop:
            drop_findings = list(drop.findings)
            for name, result in drop.load_many(list(entities), staging_root, delivery_date).items():
                if name not in drop.contract.entity_names and not result.present:
                    other_version.append(name)
                    continue
                outcome = EntityOutcome(name, result)
                outcome.checks.append(contract_check(name, result, drop_findings if drop.fatal else ()))
                outcomes[name] = outcome
            context = DeliveryContext(config, paths, delivery_date, staging_root,
                                      {n: o.result for n, o in outcomes.items()}, run_id)
            for name, outcome in outcomes.items():
                if outcome.present and not outcome.result.failed and not drop.fatal:
                    for validator in validators:
                        outcome.checks.extend(validator(name, outcome.result, context))
        blocked = any(o.blocked for o in outcomes.values())
        if blocked:
            # Keep what was read for the operator; raw/ (and so the marts) stay as they were.
            quarantine = paths.quarantine / delivery_date / run_id
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(quarantine, ignore_errors=True)
            os.replace(staging_root, quarantine)
        else:
            for name, outcome in outcomes.items():
                if outcome.present:
                    promote(staging_root, paths.warehouse, name, delivery_date)
        outcome = DeliveryOutcome(
            customer_id=config.customer_id,
            delivery_date=delivery_date,
            drop_path=drop_path,
            drop_sha256=sha,
            drop_findings=drop_findings,
            entities=outcomes,
            promoted=not blocked,
            seconds=time.perf_counter() - started,
            other_version_entities=other_version,
        )
        if reporter is not None:
            outcome.report_path = reporter(outcome, context)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        for tree in (paths.raw, paths.rejects, paths.quarantine, paths.reports, staging_root.parent):
            secure_tree(tree)
    return outcome
