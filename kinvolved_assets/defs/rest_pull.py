"""REST customers: a pull job, a daily (delta) and a monthly (full) schedule per customer from its
``schedule:``, and a retry sensor. A pull run writes a delivery into the customer's landing folder;
the customer's delivery sensor picks it up like any delivery (one path downstream)."""

# no "from __future__ import annotations": Dagster reads the op's config annotation at run time


from dagster import (
    Config,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
    sensor,
)

from kinvolved_assets.defs.keys import CUSTOMER_TAG
from kinvolved_assets.defs.resources import PlatformResource

PULL_JOB = "rest_pull"
ATTEMPT_TAG = "kinvolved/pull_attempt"
MODE_TAG = "kinvolved/pull_mode"
MAX_ATTEMPTS = 3


class PullConfig(Config):
    customer: str
    full: bool = False


@op(name="pull_oneroster_api",
    description="Pull a REST customer's OneRoster API into one delivery in its landing folder")
def pull_oneroster_api(context: OpExecutionContext, config: PullConfig, platform: PlatformResource) -> dict:
    from kinvolved_assets.rest.client import PullError
    from kinvolved_assets.rest.pull import pull_customer

    customer = platform.customer(config.customer)
    try:
        result = pull_customer(customer, platform.home_path, force_full=config.full)
    except PullError as exc:
        raise Failure(description=str(exc)) from None
    context.log.info(f"{result.mode} pull {result.pull_id}: {sum(result.rows.values())} records, "
                     f"delivery {result.delivery.name if result.delivery else '-'}")
    context.add_output_metadata({
        "mode": result.mode, "reason": result.reason, "delivery_date": result.delivery_date,
        "delivery": result.delivery.name if result.delivery else "", "pages": result.pages,
        "requests": result.requests, "seconds": round(result.seconds, 2),
        "records": MetadataValue.json(result.rows), "total_records": sum(result.rows.values()),
    })
    return {"pull_id": result.pull_id, "rows": result.rows}


@job(name=PULL_JOB, description="One pull of a REST customer's OneRoster API (becomes a delivery)")
def rest_pull_job():
    pull_oneroster_api()


def _request(customer_id: str, full: bool, run_key: str, attempt: int = 1) -> RunRequest:
    return RunRequest(run_key=run_key, job_name=PULL_JOB,
                      run_config={"ops": {"pull_oneroster_api": {"config": {"customer": customer_id,
                                                                            "full": full}}}},
                      tags={CUSTOMER_TAG: customer_id, MODE_TAG: "full" if full else "delta",
                            ATTEMPT_TAG: str(attempt)})


def _pull_schedule(customer_id: str, kind: str, cron: str, timezone: str):
    full = kind == "monthly"

    @schedule(name=f"{kind}_pull__{customer_id}", cron_schedule=cron, execution_timezone=timezone,
              job=rest_pull_job,
              default_status=DefaultScheduleStatus.STOPPED,
              description=f"{'full' if full else 'delta'} pull of {customer_id}'s OneRoster API ({cron}, "
                          f"{timezone})")
    def _schedule(context: ScheduleEvaluationContext):
        stamp = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
        return _request(customer_id, full, f"{kind}-pull-{customer_id}-{stamp}")

    return _schedule


def retry_decision(instance, customer_id: str):
    """A RunRequest that retries the customer's latest pull when it failed or was cancelled (killed)."""
    runs = instance.get_runs(filters=RunsFilter(job_name=PULL_JOB, tags={CUSTOMER_TAG: customer_id}), limit=1)
    if not runs:
        return SkipReason(f"no pull of {customer_id} yet")
    last = runs[0]
    if last.status not in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        return SkipReason(f"latest pull of {customer_id} is {last.status.value}")
    attempt = int(last.tags.get(ATTEMPT_TAG, "1"))
    if attempt >= MAX_ATTEMPTS:
        return SkipReason(f"the pull of {customer_id} failed {attempt} times; see run {last.run_id}")
    return _request(customer_id, last.tags.get(MODE_TAG) == "full", f"retry-{last.run_id}", attempt + 1)


def _retry_sensor(customer_id: str):
    @sensor(name=f"pull_retry__{customer_id}", job=rest_pull_job, minimum_interval_seconds=300,
            default_status=DefaultSensorStatus.STOPPED,
            description=f"Retries a failed or killed pull of {customer_id} (at most {MAX_ATTEMPTS} attempts)")
    def _sensor(context):
        return retry_decision(context.instance, customer_id)

    return _sensor


def build_rest_pulls(customers: dict):
    """(jobs, schedules, sensors) for every customer with flow oneroster_rest."""
    rest = [c for c in customers.values() if c.rest is not None]
    schedules, sensors = [], []
    for customer in rest:
        for kind in ("daily", "monthly"):
            cron = getattr(customer.schedule, kind, None) if customer.schedule else None
            if cron:
                schedules.append(_pull_schedule(customer.customer_id, kind, cron, customer.timezone))
        sensors.append(_retry_sensor(customer.customer_id))
    return [rest_pull_job], schedules, sensors
