"""Ingest one delivery of one customer: locate and archive the delivery, load each entity into a staging
area, validate, then promote every partition into ``raw/`` only if nothing blocks (all or nothing).

Pure Python (no Dagster): the Dagster asset, the CLI and the benchmarks all call this.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kinvolved_assets.checks import CheckOutcome, DeliveryContext, Validator
from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.ledger import Delivery, Ledger
from kinvolved_assets.delivery.legacy_layout import upgrade_layout
from kinvolved_assets.delivery.locate import Located, locate_delivery
from kinvolved_assets.delivery.lock import customer_lock
from kinvolved_assets.delivery.recovery import process_tmp, recover_customer, trash_dir
from kinvolved_assets.diskspace import DiskFull, disk_full_message, is_disk_full, preflight
from kinvolved_assets.oneroster.customer_match import wrong_customer_findings
from kinvolved_assets.oneroster.delivery_files import DeliveryLimits, LoadResult, open_delivery
from kinvolved_assets.oneroster.findings import RULES, Finding
from kinvolved_assets.oneroster.spec import RAW_ENTITIES as ENTITIES
from kinvolved_assets.paths import CustomerPaths, partition_dirs
from kinvolved_assets.permissions import private_dir, secure_tree

ENTITY_NAMES = tuple(e.name for e in ENTITIES)
# a delivery whose attendance ends more than this many days before its delivery date gets a warning
ATTENDANCE_GAP_DAYS = 14


class AlreadyIngested(RuntimeError):
    """An automatic path (sensor run, `kinvolved ingest`) found its delivery already settled."""

    def __init__(self, delivery: Delivery, asked_date: str | None = None):
        self.delivery = delivery
        if asked_date and asked_date != delivery.delivery_date:
            # identical bytes under a second date (e.g. two empty nightly deltas): the sensor skips them
            # as a re-copy, and every other path does the same instead of filing them under two dates
            super().__init__(
                f"the delivery of {asked_date} has the same bytes as delivery {delivery.file_name} "
                f"({delivery.delivery_date} #{delivery.seq}, sha256 {delivery.sha256[:12]}, "
                f"{delivery.state}); identical bytes are one delivery, so nothing was done")
            return
        super().__init__(
            f"delivery {delivery.file_name} (sha256 {delivery.sha256[:12]}, {delivery.delivery_date} "
            f"#{delivery.seq}) is already {delivery.state} by run {delivery.run_id}; nothing was done "
            f"(`kinvolved reingest CUSTOMER {delivery.seq}` ingests it again)")


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
    delivery_path: Path
    delivery_sha256: str
    delivery_findings: list[Finding]
    entities: dict[str, EntityOutcome]
    promoted: bool
    seconds: float
    report_path: Path | None = None
    # entities asked for that the delivery's OneRoster version does not have (a 1.1 delivery: roles,
    # user_profiles): not part of the delivery, reported as absent
    other_version_entities: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # operator warnings (no cell values)
    ledger: Delivery | None = None                     # the ledger's row after this run

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


# A reporter writes the human-readable validation report of a delivery and returns its path.
Reporter = Callable[["DeliveryOutcome", DeliveryContext], Path]


def _replace_dir(src: Path | None, dest: Path, trash_root: Path) -> None:
    """Make ``dest`` become ``src`` (or disappear when src is None) with renames only; the replaced
    folder goes to ``trash_root`` first (same file system), where recovery finds what a kill left."""
    trash = trash_root / f"{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}"
    trash_root.mkdir(mode=0o700, exist_ok=True)
    if dest.exists():
        os.replace(dest, trash)
    if src is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
    shutil.rmtree(trash, ignore_errors=True)


def promote(staging_root: Path, warehouse: Path, entity: str, delivery_date: str, seq: int) -> None:
    """Move one entity of a staged delivery to its own partitions ``delivery_date=<D>/seq=<N>``: a
    re-run of the delivery replaces them, another delivery of the same date is left alone."""
    for staged, final in zip(partition_dirs(staging_root, entity, delivery_date),
                             partition_dirs(warehouse, entity, delivery_date, seq), strict=True):
        _replace_dir(staged if staged.exists() else None, final, trash_dir(warehouse))


def contract_check(entity: str, result: LoadResult, delivery_findings: Iterable[Finding]) -> CheckOutcome:
    """The OneRoster+ contract as a check: file-level errors block, rejected rows warn."""
    findings = list(result.findings)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    rules: dict[str, int] = {}
    for f in findings:
        rules[f"{f.severity}:{f.rule}"] = rules.get(f"{f.severity}:{f.rule}", 0) + 1
    fatal_delivery = [f for f in delivery_findings if f.severity == "error"]
    # a file-level error blocks even when the file was read (most rows rejected)
    file_errors = [f for f in errors if RULES.get(f.rule, ("", "row"))[1] == "file"]
    failed = bool(result.failed) or bool(fatal_delivery) or bool(file_errors)
    return CheckOutcome(
        name="contract",
        passed=not failed,
        blocking=True,
        description="file readable, required columns present, rows typed (rejects quarantined)",
        metadata={
            "rows": int(result.rows or 0),
            "rejected_rows": int(result.rejected_rows or 0),
            "errors": len(errors) + len(fatal_delivery),
            "warnings": len(warnings),
            "findings_by_rule": rules,
            "first_findings": [f.to_dict() for f in (fatal_delivery + errors + warnings)[:10]],
        },
    )


def ingest_delivery(
    config: CustomerConfig,
    paths: CustomerPaths,
    delivery_date: str,
    *,
    run_id: str,
    delivery_hint: str | None = None,
    entities: Sequence[str] = ENTITY_NAMES,
    validators: Sequence[Validator] = (),
    reporter: Reporter | None = None,
    limits: DeliveryLimits | None = None,
    sha256: str | None = None,
    only_new: bool = False,
    log: Callable[[str], None] | None = None,
) -> DeliveryOutcome:
    """Ingest one delivery as the customer's only writer, recorded in the customer's ledger.

    ``sha256`` picks the delivery by its bytes (the ledger's choice); ``only_new`` (automatic paths:
    sensor runs, `kinvolved ingest`) refuses a delivery the ledger already shows ingested, blocked or
    superseded (``AlreadyIngested``). A run killed half-way leaves the delivery ``ingesting``; the next
    writer marks it ``failed`` and removes what the run left (``recovery.recover_customer``).
    """
    try:
        return _ingest_as_writer(config, paths, delivery_date, run_id=run_id, delivery_hint=delivery_hint,
                                 entities=entities, validators=validators, reporter=reporter, limits=limits,
                                 sha256=sha256, only_new=only_new, log=log or (lambda _line: None))
    except DiskFull:
        raise
    except Exception as exc:
        if is_disk_full(exc):   # one clear operator message, never a finding against the file
            raise DiskFull(disk_full_message(paths.warehouse, None,
                                             f"ingest the delivery of {delivery_date}")) from None
        raise


def _ingest_as_writer(config, paths, delivery_date, *, run_id, delivery_hint, entities, validators, reporter,
                      limits,
                      sha256, only_new, log) -> DeliveryOutcome:
    say = log
    with customer_lock(paths, f"run {run_id} (delivery {delivery_date})",
                       on_wait=say), process_tmp(paths.home):
        recovered = recover_customer(paths)
        if recovered.summary():
            say(recovered.summary())
        upgrade_layout(paths, say)   # legacy partitions into seq= folders before anything writes raw/
        located = locate_delivery(config, paths, delivery_date, delivery_hint, sha256)
        # room for the delivery first: a full disk neither claims it nor spends one of its attempts
        preflight(paths.warehouse, located.path, f"ingest {located.name}")
        with Ledger(paths) as ledger:
            entry, claimed = ledger.claim(located.sha256, located.name, delivery_date,
                                          located.date_source or "partition", run_id, only_new=only_new)
            if not claimed:
                raise AlreadyIngested(entry, delivery_date)
            try:
                first = min(d.seq for d in ledger.same_date(delivery_date)) == entry.seq
                outcome = _ingest_located(config, paths, delivery_date, located, run_id=run_id,
                                          entities=entities,
                                          validators=validators, reporter=reporter, limits=limits,
                                          seq=entry.seq, first_of_date=first)
            except BaseException as exc:
                # an engine's message may quote a cell value: the ledger keeps the exception's type only
                why = "disk full" if is_disk_full(exc) else f"{type(exc).__name__} (see the run's logs)"
                ledger.finish(located.sha256, "failed", note=why)
                raise
            outcome.notes.extend(delivery_notes(outcome, entry))
            for note in outcome.notes:
                say(note)
            outcome.ledger = ledger.finish(located.sha256, "ingested" if outcome.promoted else "blocked",
                                           **outcome_counts(outcome), note="; ".join(outcome.notes) or None)
    return outcome


def outcome_counts(outcome: DeliveryOutcome) -> dict:
    findings = list(outcome.delivery_findings) + [f for o in outcome.entities.values()
                                                  for f in o.result.findings]
    return {"rows": sum(int(o.result.rows or 0) for o in outcome.entities.values() if o.present),
            "errors": sum(1 for f in findings if f.severity == "error"),
            "warnings": sum(1 for f in findings if f.severity == "warning")}


def delivery_notes(outcome: DeliveryOutcome, entry: Delivery) -> list[str]:
    """Operator warnings: attendance that ends long before the delivery's date (a date from the
    arrival time is only a guess; an old export copied late looks like a new one)."""
    attendance = outcome.entities.get("attendance")
    last = getattr(attendance.result, "max_date", None) if attendance and attendance.present else None
    if not last:
        return []
    gap = (dt.date.fromisoformat(outcome.delivery_date) - dt.date.fromisoformat(str(last)[:10])).days
    if gap <= ATTENDANCE_GAP_DAYS:
        return []
    return [f"attendance in {entry.file_name} ends {str(last)[:10]}, {gap} days before its delivery date "
            f"{outcome.delivery_date} (date from the {entry.date_source}); check the delivery date"]


def _ingest_located(
    config: CustomerConfig,
    paths: CustomerPaths,
    delivery_date: str,
    located: Located,
    *,
    run_id: str,
    entities: Sequence[str],
    validators: Sequence[Validator],
    reporter: Reporter | None,
    limits: DeliveryLimits | None,
    seq: int,
    first_of_date: bool = True,
) -> DeliveryOutcome:
    started = time.perf_counter()
    delivery_path, sha = located.path, located.sha256
    staging_root = _fresh_staging(paths, run_id)
    outcomes: dict[str, EntityOutcome] = {}
    other_version: list[str] = []
    written: list[Path] = []   # what this delivery wrote below the warehouse, secured on the way out
    try:
        # what the archive hashed while it copied the bytes (a ZIP, a folder's files): not hashed again
        with open_delivery(delivery_path, limits or DeliveryLimits(),
                           known_sha256=sha if delivery_path.is_file() else None,
                           known_file_hashes=located.file_hashes) as delivery:
            delivery_findings = list(delivery.findings)
            loaded = delivery.load_many(list(entities), staging_root, delivery_date)
            # another district's export in this landing folder blocks the delivery as a whole
            foreign = [] if delivery.fatal else wrong_customer_findings(loaded, config, paths.raw)
            delivery_findings += foreign
            fatal = delivery.fatal or any(f.severity == "error" for f in foreign)
            for name, result in loaded.items():
                if name not in delivery.contract.entity_names and not result.present:
                    other_version.append(name)
                    continue
                outcome = EntityOutcome(name, result)
                outcome.checks.append(contract_check(name, result, delivery_findings if fatal else ()))
                outcomes[name] = outcome
            context = DeliveryContext(config, paths, delivery_date, staging_root,
                                      {n: o.result for n, o in outcomes.items()}, run_id, seq, first_of_date)
            for name, outcome in outcomes.items():
                if outcome.present and not outcome.result.failed and not fatal:
                    for validator in validators:
                        outcome.checks.extend(validator(name, outcome.result, context))
        blocked = any(o.blocked for o in outcomes.values())
        if blocked:
            # Keep what was read for the operator; raw/ (and so the marts) stay as they were.
            quarantine = paths.quarantine / delivery_date / run_id
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(quarantine, ignore_errors=True)
            os.replace(staging_root, quarantine)
            written.append(quarantine)
        else:
            for name, outcome in outcomes.items():
                if outcome.present:
                    promote(staging_root, paths.warehouse, name, delivery_date, seq)
                    written += partition_dirs(paths.warehouse, name, delivery_date, seq)
        outcome = DeliveryOutcome(
            customer_id=config.customer_id,
            delivery_date=delivery_date,
            delivery_path=delivery_path,
            delivery_sha256=sha,
            delivery_findings=delivery_findings,
            entities=outcomes,
            promoted=not blocked,
            seconds=time.perf_counter() - started,
            other_version_entities=other_version,
        )
        # a first delivery naming none of the licensed schools: the operator hears it (ledger note, CLI)
        outcome.notes.extend(f"{f.file}: {f.message}" for f in foreign if f.severity == "warning")
        if reporter is not None:
            outcome.report_path = reporter(outcome, context)
            written.append(Path(outcome.report_path).parent)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        private_dir(staging_root.parent)
        secure_written(paths.warehouse, written)
    return outcome


def _fresh_staging(paths: CustomerPaths, run_id: str) -> Path:
    """The run's own empty staging folder (what an earlier attempt of the same run left is removed)."""
    staging_root = paths.warehouse / "staging" / run_id
    private_dir(paths.warehouse)
    shutil.rmtree(staging_root, ignore_errors=True)
    staging_root.mkdir(parents=True, mode=0o700)
    return staging_root


def secure_written(warehouse: Path, trees: Iterable[Path]) -> None:
    """0700/0600 for what this delivery wrote: each tree, and its folders up to the warehouse (never
    the whole warehouse again: that walk grew with every delivery of the year)."""
    for tree in trees:
        if not tree.is_dir():   # an entity without rejects has no rejects partition
            continue
        secure_tree(tree)
        parent = tree.parent
        while parent != warehouse and warehouse in parent.parents:
            private_dir(parent)
            parent = parent.parent
