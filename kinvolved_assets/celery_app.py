"""The Celery app of the worker pool: ``celery -A kinvolved_assets.celery_app worker -Q dagster``.

Settings come from the environment (``kinvolved_assets.celery_pool``), the same the run workers use;
the ``execute_plan`` task is dagster-celery's: it loads the step's job from this package and writes
the step's events to the Dagster instance the run belongs to (PostgreSQL in production).
"""

from dagster_celery.tasks import create_task

from kinvolved_assets.celery_pool import build_app

app = build_app()
execute_plan = create_task(app)
