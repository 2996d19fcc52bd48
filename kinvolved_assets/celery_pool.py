"""The worker pool of the production shape: Dagster's Celery executor over a Redis broker.

One module holds the Celery settings so that the run workers (which submit steps) and the pool's
workers (which execute them) agree on every one of them; both read the same environment:

``KINVOLVED_CELERY_BROKER``               broker URL, e.g. ``redis://redis.internal:6379/0`` (required)
``KINVOLVED_CELERY_BACKEND``              result backend URL (default: the broker URL)
``KINVOLVED_CELERY_VISIBILITY_TIMEOUT``   seconds before a step fetched by a worker that never
                                          acknowledged it (the worker died) goes back to the queue
                                          (default 7200)
``KINVOLVED_CELERY_TIME_LIMIT``           hard limit of one step attempt in seconds; must stay below the
                                          visibility timeout (default: visibility timeout - 600)

A step is acknowledged only when it finished (``task_acks_late``): a worker killed mid-step leaves its
message unacknowledged, and Redis hands it to another worker once the visibility timeout has passed.
The hard time limit keeps every attempt shorter than that timeout, so a step that is still running is
never handed to a second worker. Each run of this platform is one step (one delivery, or one dbt build)
and its runs per customer are serialized by the run queue (``deploy/dagster.yaml``), so the steps of one
customer never run on two workers at once; steps of different customers spread over the whole pool.
"""

from __future__ import annotations

import os

QUEUE = "dagster"
DEFAULT_VISIBILITY_TIMEOUT = 7200
TIME_LIMIT_MARGIN = 600


class PoolSettingsError(ValueError):
    """The worker pool's environment is missing or inconsistent."""


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PoolSettingsError(f"{name}={raw!r} is not a whole number of seconds") from None
    if value <= 0:
        raise PoolSettingsError(f"{name}={raw!r} must be positive")
    return value


def broker_url() -> str:
    url = os.environ.get("KINVOLVED_CELERY_BROKER", "")
    if not url:
        raise PoolSettingsError("KINVOLVED_CELERY_BROKER is not set: give the Redis URL of the worker pool's "
                                "broker, e.g. redis://127.0.0.1:6379/0")
    return url


def backend_url() -> str:
    return os.environ.get("KINVOLVED_CELERY_BACKEND") or broker_url()


def timeouts() -> tuple[int, int]:
    """(visibility timeout, hard time limit of one step attempt), in seconds."""
    visibility = _int_env("KINVOLVED_CELERY_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY_TIMEOUT)
    limit = _int_env("KINVOLVED_CELERY_TIME_LIMIT", max(visibility - TIME_LIMIT_MARGIN, visibility // 2))
    if limit >= visibility:
        raise PoolSettingsError(
            f"KINVOLVED_CELERY_TIME_LIMIT ({limit}) must be below KINVOLVED_CELERY_VISIBILITY_TIMEOUT "
            f"({visibility}): a step still running past the visibility timeout would be handed to a second "
            "worker")
    return visibility, limit


def celery_settings() -> dict:
    """Celery's own settings (``config_source``), identical in run workers and pool workers."""
    visibility, limit = timeouts()
    transport = {
        "visibility_timeout": visibility,
        # look for the unacknowledged steps of dead workers every few seconds (default: every 100 s)
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
    return {
        "task_acks_late": True,
        # a pool child killed alone (out of memory) fails its step instead of re-running it forever
        "task_reject_on_worker_lost": False,
        "task_time_limit": limit,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "broker_connection_retry_on_startup": True,
        "result_expires": 7 * 24 * 3600,
        "task_default_queue": QUEUE,
        "task_default_priority": 5,
    }


def celery_executor_def():
    """``dagster_celery.celery_executor`` configured from the environment (imported only when chosen)."""
    from dagster_celery import celery_executor

    broker_url()  # fail at load time, naming the variable, rather than at the first run
    return celery_executor.configured(
        {
            # by name, so a password in a URL never lands in the job snapshot
            "broker": {"env": "KINVOLVED_CELERY_BROKER"},
            "backend": {"env": "KINVOLVED_CELERY_BACKEND" if os.environ.get("KINVOLVED_CELERY_BACKEND")
                        else "KINVOLVED_CELERY_BROKER"},
            "config_source": celery_settings(),
        },
        name="kinvolved_celery",
    )


def build_app():
    """The Celery app the pool's workers run (``celery -A kinvolved_assets.celery_app worker``)."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    executor = CeleryExecutor.for_cli(broker=broker_url(), backend=backend_url(),
                                      config_source=celery_settings())
    return make_app(executor.app_args())
