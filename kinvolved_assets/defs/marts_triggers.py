"""The marts triggers: one ``build_marts`` run for a customer after its deliveries changed raw/.

``marts_after_delivery`` reacts to a successful run (a sensor run, a UI launch, a backfill's run);
``marts_after_failed_run`` to a failed one that still ingested something: the last run of a backfill
whose delivery is blocked (its earlier runs were promoted), a backlog run stopped at a blocked
delivery, a date replay whose second delivery is blocked. A backfill (UI, daemon, `kinvolved
backfill` without ``--in-process``) builds each customer's marts once, when all of its runs are
terminal, whatever their status, if any of them ingested a delivery; if none did, the sensor's skip
reason and log say so, naming the backfill. Runs of an in-process caller (``kinvolved/pid``: `kinvolved
ingest`, `backfill --in-process`, `reingest`) are left to that caller, which builds the marts itself.
"""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterRunStatus, RunRequest, RunsFilter, SkipReason, run_status_sensor

from kinvolved_assets.defs.keys import BACKLOG_JOB, CUSTOMER_TAG, INGEST_JOB, MARTS_JOB
from kinvolved_assets.delivery.ledger import Ledger, ledger_file
from kinvolved_assets.paths import CustomerPaths, UnsafePathError

BACKFILL_TAG = "dagster/backfill"
AFTER_BACKFILL_TAG = "kinvolved/after_backfill"
PID_TAG = "kinvolved/pid"
UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
              DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _targeted_partitions(backfill) -> int | None:
    """How many partitions a backfill targets (None when Dagster does not say)."""
    try:
        if backfill.is_asset_backfill:
            data = backfill.asset_backfill_data
            return data.get_num_partitions() if data is not None else None
        return len(backfill.partition_names) if backfill.partition_names is not None else None
    except Exception:  # noqa: BLE001 - an older serialization: rely on the unfinished runs alone
        return None


def backfill_waiting(instance, backfill_id: str) -> str | None:
    """Why a backfill's marts build must wait (a run still to finish, partitions not yet submitted),
    else None: every run of the backfill is terminal."""
    unfinished = instance.get_run_ids(filters=RunsFilter(tags={BACKFILL_TAG: backfill_id},
                                                         statuses=UNFINISHED),
                                      limit=1)
    if unfinished:
        return f"run {unfinished[0]} not finished"
    backfill = instance.get_backfill(backfill_id)
    if backfill is None or backfill.status.value != "REQUESTED":
        return None
    targeted = _targeted_partitions(backfill)
    runs = len(instance.get_run_ids(filters=RunsFilter(tags={BACKFILL_TAG: backfill_id})))
    if targeted is not None and runs < targeted:
        return f"{runs} of {targeted} partitions submitted"
    return None


def run_customer(run) -> str | None:
    """The customer whose deliveries a run ingested (None: not an ingest run)."""
    if run.job_name == BACKLOG_JOB:
        return run.tags.get("dagster/partition")
    if run.job_name == MARTS_JOB:
        return None
    return run.tags.get("dagster/partition/customer")


def ingested_by(home: str | None, customer_id: str, run_ids: set[str]) -> int:
    """How many deliveries the customer's ledger shows ingested by these runs (a backlog run records
    each delivery as ``<run id>-<index>``)."""
    if home is None:
        return 0
    try:
        paths = CustomerPaths.for_customer(customer_id, Path(home))
    except UnsafePathError:
        return 0
    if not ledger_file(paths).exists():
        return 0
    with Ledger(paths) as ledger:
        return sum(1 for d in ledger.deliveries() if d.state == "ingested" and _run_of(d.run_id) in run_ids)


def _run_of(delivery_run_id: str | None) -> str | None:
    """The Dagster run of a ledger row's run id (a backlog run's ``<run id>-<index>``)."""
    if delivery_run_id and delivery_run_id.count("-") == 5:
        return delivery_run_id.rsplit("-", 1)[0]
    return delivery_run_id


def _marts_request(instance, customer_id: str, run_key: str, after_run: str, backfill_id: str | None):
    """The marts build request, or why there is none (a build already queued or already asked for)."""
    queued = instance.get_run_ids(filters=RunsFilter(job_name=MARTS_JOB, tags={CUSTOMER_TAG: customer_id},
                                                     statuses=[DagsterRunStatus.QUEUED,
                                                               DagsterRunStatus.NOT_STARTED]),
                                  limit=1)
    if queued:
        return SkipReason(f"a marts build for {customer_id} is already queued ({queued[0]})")
    tags = {CUSTOMER_TAG: customer_id, "kinvolved/after_run": after_run}
    if backfill_id:
        asked = instance.get_run_ids(filters=RunsFilter(job_name=MARTS_JOB, tags={
            CUSTOMER_TAG: customer_id, AFTER_BACKFILL_TAG: backfill_id}), limit=1)
        if asked:   # the other trigger saw the backfill finish first
            return SkipReason(f"backfill {backfill_id}: marts build {asked[0]} for {customer_id} "
                              "already requested")
        tags[AFTER_BACKFILL_TAG] = backfill_id
    return RunRequest(run_key=run_key, partition_key=customer_id, tags=tags)


def after_backfill(instance, home: str | None, run, backfill_id: str, log=None):
    """A run of a backfill ended: wait for its other runs, then one marts build per customer whose runs
    ingested something; a customer with none is named in the skip reason and the log."""
    waiting = backfill_waiting(instance, backfill_id)
    if waiting:
        return SkipReason(f"run {run.run_id} is part of backfill {backfill_id} ({waiting}): its marts "
                          "are built once, after its last run")
    by_customer: dict[str, list] = {}
    for record in instance.get_run_records(filters=RunsFilter(tags={BACKFILL_TAG: backfill_id})):
        customer_id = run_customer(record.dagster_run)
        if customer_id:
            by_customer.setdefault(customer_id, []).append(record.dagster_run)
    out, skipped = [], []
    for customer_id, runs in sorted(by_customer.items()):
        ok = [r for r in runs if r.status == DagsterRunStatus.SUCCESS]
        if not ok and not ingested_by(home, customer_id, {r.run_id for r in runs}):
            statuses = ", ".join(sorted({r.status.value.lower() for r in runs}))
            skipped.append(f"backfill {backfill_id} finished: none of its {len(runs)} runs of {customer_id} "
                           f"ingested a delivery ({statuses}; see run {runs[0].run_id}): "
                           "no marts build needed")
            continue
        answer = _marts_request(instance, customer_id, f"marts-after-backfill-{backfill_id}-{customer_id}",
                                run.run_id, backfill_id)
        if isinstance(answer, RunRequest):
            out.append(answer)
        else:
            skipped.append(answer.skip_message)
    for line in skipped if log is not None else ():
        log.info(line)
    if not out:
        return SkipReason("; ".join(skipped) or f"backfill {backfill_id} ingested no delivery")
    return out[0] if len(out) == 1 else out


def build_marts_trigger(marts_job, home: str | None = None):
    @run_status_sensor(
        name="marts_after_delivery",
        run_status=DagsterRunStatus.SUCCESS,
        request_job=marts_job,
        description="After a delivery is promoted, rebuild that customer's marts "
                    "(one queued build per customer).",
    )
    def marts_after_delivery(context):
        run = context.dagster_run
        # Any successful run that materialized raw deliveries (sensor runs, UI launches, backfills)
        # carries the customer dimension of the delivery partition.
        customer_id = run_customer(run)
        if not customer_id:
            return SkipReason(f"run {run.run_id} did not ingest a delivery")
        backfill_id = run.tags.get(BACKFILL_TAG)
        # a backfill (UI, daemon, `kinvolved backfill`) builds the marts once, after its runs
        if backfill_id:
            return after_backfill(context.instance, home, run, backfill_id, context.log)
        return _marts_request(context.instance, customer_id, f"marts-after-{run.run_id}", run.run_id, None)

    return marts_after_delivery


def build_failed_run_trigger(marts_job, home: str | None = None):
    @run_status_sensor(
        name="marts_after_failed_run",
        run_status=DagsterRunStatus.FAILURE,
        request_job=marts_job,
        description="After a failed run that still ingested deliveries (a backfill whose last delivery is "
        "blocked, a backlog stopped at a blocked delivery), rebuild that customer's marts once.",
    )
    def marts_after_failed_run(context):
        run = context.dagster_run
        customer_id = run_customer(run)
        if not customer_id or run.job_name not in (INGEST_JOB, BACKLOG_JOB):
            return SkipReason(f"run {run.run_id} did not ingest a delivery")
        backfill_id = run.tags.get(BACKFILL_TAG)
        if backfill_id:
            return after_backfill(context.instance, home, run, backfill_id, context.log)
        if run.tags.get(PID_TAG):
            return SkipReason(f"run {run.run_id} ran in process {run.tags[PID_TAG]}: "
                              "that command builds the marts")
        if not ingested_by(home, customer_id, {run.run_id}):
            return SkipReason(f"run {run.run_id} failed before it ingested a delivery of {customer_id}: "
                              "the marts are unchanged")
        return _marts_request(context.instance, customer_id, f"marts-after-{run.run_id}", run.run_id, None)

    return marts_after_failed_run
