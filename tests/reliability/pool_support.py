"""The production shape as real processes on this machine: PostgreSQL instance (deploy/dagster.yaml),
``dagster api grpc`` code server, ``dagster-webserver`` and ``dagster-daemon`` over deploy/workspace.yaml,
and N Celery workers (``celery -A kinvolved_assets.celery_app worker``) on a Redis broker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pool_services import Postgres, Redis, free_port
from reliability_support import BIN, LAUNCH_RUN, REPO, START_SENSOR, Site, graphql, kill_group, wait_for

DEPLOY = REPO / "deploy"
INGEST_STEP, MARTS_STEP = "oneroster_delivery", "customer_marts"
WORKER_EVENT = "in celery worker"


class PoolDeployment:
    def __init__(self, site: Site, pg: Postgres, redis: Redis, *, visibility_timeout: int, time_limit: int):
        self.site, self.pg, self.redis = site, pg, redis
        self.code_port, self.port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = site.root / "process_logs"
        self.timeouts = (visibility_timeout, time_limit)
        shutil.copyfile(DEPLOY / "dagster.yaml", site.dagster_home / "dagster.yaml")

    def env(self) -> dict[str, str]:
        visibility, limit = self.timeouts
        return self.site.env(
            **self.pg.env(), KINVOLVED_EXECUTOR="celery", KINVOLVED_CELERY_BROKER=self.redis.url,
            KINVOLVED_CELERY_BACKEND=self.redis.url[:-1] + "1",
            KINVOLVED_CELERY_VISIBILITY_TIMEOUT=str(visibility),
            KINVOLVED_CELERY_TIME_LIMIT=str(limit), KINVOLVED_CODE_HOST="127.0.0.1",
            KINVOLVED_CODE_PORT=str(self.code_port),
            KINVOLVED_COMPUTE_LOGS_DIR=str(self.site.home / "compute_logs"),
            # every run is a fresh run worker and every worker child loads the code once: the suites' rules
            # run on the DuckDB engine here (GX itself is exercised by the expectation tests)
            KINVOLVED_SETTLE_SECONDS="0", KINVOLVED_EXPECTATIONS_ENGINE="duckdb")

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.logs.mkdir(exist_ok=True)
        proc = subprocess.Popen(cmd, env=self.env(), cwd=str(REPO), start_new_session=True,
                                stdout=open(self.logs / f"{name}.out", "w"),
                                stderr=open(self.logs / f"{name}.err", "w"))
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.err"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self, workers: int) -> None:
        workspace = str(DEPLOY / "workspace.yaml")
        self._spawn("code",
                    [f"{BIN}/dagster", "api", "grpc", "-m", "kinvolved_assets.definitions", "-h", "127.0.0.1",
                             "-p", str(self.code_port), "--location-name", "kinvolved", "-d", str(REPO)])
        for n in range(1, workers + 1):
            self.start_worker(f"w{n}")
        ok = wait_for(self._code_up, timeout=240, interval=1)
        assert ok, "code server did not come up:\n" + self.log("code")
        self._spawn("webserver",
                    [f"{BIN}/dagster-webserver", "-h", "127.0.0.1", "-p", str(self.port), "-w", workspace])
        self._spawn("daemon", [f"{BIN}/dagster-daemon", "run", "-w", workspace])
        assert wait_for(self._webserver_up, timeout=240,
                        interval=1), "webserver down:\n" + self.log("webserver")

    def start_worker(self, name: str) -> subprocess.Popen:
        return self._spawn(name,
                           [f"{BIN}/celery", "-A", "kinvolved_assets.celery_app", "worker", "-Q", "dagster",
                                  "-c", "1", "-P", "prefork", "-n", f"{name}@%h", "--loglevel", "INFO",
                                  "--without-gossip", "--without-mingle"])

    def _code_up(self) -> bool:
        if self.procs["code"].poll() is not None:
            raise AssertionError("code server exited:\n" + self.log("code"))
        check = subprocess.run([f"{BIN}/dagster", "api", "grpc-health-check", "-p", str(self.code_port)],
                               capture_output=True, text=True, env=self.env())
        return check.returncode == 0

    def _webserver_up(self) -> bool:
        if self.procs["webserver"].poll() is not None:
            raise AssertionError("webserver exited:\n" + self.log("webserver"))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=5):
                return True
        except OSError:
            return False

    REPO_SELECTOR = {"repositoryLocationName": "kinvolved", "repositoryName": "__repository__"}

    def start_sensor(self, name: str) -> None:
        data = graphql(self.port, START_SENSOR, {"sel": {**self.REPO_SELECTOR, "sensorName": name}})
        assert data["startSensor"]["__typename"] == "Sensor", data

    def launch_marts(self, customer: str) -> str:
        """What an operator's *Materialize* of a customer's marts does: a queued ``build_marts`` run."""
        tags = {"dagster/partition": customer, "kinvolved/customer": customer}
        params = {"selector": {**self.REPO_SELECTOR, "jobName": "build_marts"}, "runConfigData": {},
                  "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
        data = graphql(self.port, LAUNCH_RUN, {"p": params})["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its pool children (and their dbt), as a lost machine."""
        kill_group(self.procs[name])

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:   # run workers of the code server, pool children
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class GraphqlProbe:
    """Asks the webserver for the latest runs every second (the UI's runs page, read from PostgreSQL)."""

    port: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    QUERY = "{ runsOrError(limit: 5) { __typename ... on Runs { results { runId status } } } }"

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                data = graphql(self.port, self.QUERY, timeout=30)
                assert data["runsOrError"]["__typename"] == "Runs", data
                self.latencies.append(time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - every failure is recorded and asserted on
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            self._stop.wait(1.0)

    def __enter__(self) -> GraphqlProbe:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def step_attempts(instance, run_id: str) -> list[dict]:
    """Every step attempt of a run from its event log: the worker that picked it up (dagster-celery's
    engine event), when, and how it ended."""
    from dagster import DagsterEventType

    attempts: list[dict] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ENGINE_EVENT and WORKER_EVENT in (event.message or ""):
            meta = event.event_specific_data.metadata
            worker = str(meta["Celery worker"].value).split("@")[0]
            attempts.append({"step": event.step_key, "worker": worker, "picked": record.timestamp,
                             "end": None,
                             "outcome": None})
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and attempts:
            attempts[-1].update(end=record.timestamp, outcome=event.event_type.value)
    return attempts


def run_span(instance, run_id: str) -> tuple[float, float] | None:
    """(RUN_START, RUN_SUCCESS/FAILURE) timestamps from the run's event log."""
    from dagster import DagsterEventType

    start = end = None
    for record in instance.all_logs(run_id):
        kind = record.dagster_event.event_type if record.dagster_event else None
        if kind == DagsterEventType.RUN_START:
            start = record.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            end = record.timestamp
    return (start, end) if start and end else None


def build_file(site: Site, customer: str, run_id: str) -> Path:
    return site.warehouse(customer) / "build" / f"marts-{run_id}.duckdb"
