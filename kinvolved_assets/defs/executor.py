"""Where the steps of a run execute: in the run worker (the default, embedded and Kubernetes shapes),
or on the Celery worker pool (``KINVOLVED_EXECUTOR=celery``, the one-server / many-workers shape)."""

from __future__ import annotations

import os

from dagster import in_process_executor

EXECUTORS = ("in_process", "celery")


def run_executor():
    choice = os.environ.get("KINVOLVED_EXECUTOR", "in_process") or "in_process"
    if choice == "in_process":
        return in_process_executor
    if choice == "celery":
        from kinvolved_assets.celery_pool import celery_executor_def

        return celery_executor_def()
    raise ValueError(f"KINVOLVED_EXECUTOR={choice!r} is not one of {', '.join(EXECUTORS)}")
