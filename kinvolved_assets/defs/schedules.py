"""Schedules from each customer's config.

The CSV flow is driven by the delivery sensor. A ``schedule.daily`` cron adds a nightly marts rebuild
(so the as-of day rolls even when a district sends nothing); ``schedule.monthly`` adds a monthly full
rebuild. Both run in the customer's timezone and start stopped: an operator turns them on.
"""

from __future__ import annotations

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.defs.keys import CUSTOMER_TAG


def build_schedules(customers: dict[str, CustomerConfig], marts_job):
    schedules = []
    for customer in customers.values():
        if customer.schedule is None:
            continue
        for kind in ("daily", "monthly"):
            cron = getattr(customer.schedule, kind)
            if not cron:
                continue
            schedules.append(_schedule(customer.customer_id, kind, cron, customer.timezone, marts_job))
    return schedules


def _schedule(customer_id: str, kind: str, cron: str, timezone: str, marts_job):
    @schedule(
        name=f"{kind}_marts__{customer_id}",
        cron_schedule=cron,
        execution_timezone=timezone,
        job=marts_job,
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"{kind} rebuild of {customer_id}'s marts ({cron}, {timezone})",
    )
    def _marts_schedule(context: ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
        return RunRequest(run_key=f"{kind}-{customer_id}-{stamp}", partition_key=customer_id,
                          tags={CUSTOMER_TAG: customer_id, "kinvolved/trigger": kind})

    return _marts_schedule
