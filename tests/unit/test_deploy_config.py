"""The three deployment shapes stay consistent: the embedded dagster.yaml, the one-server
deploy/dagster.yaml (tested for real in tests/reliability/test_worker_pool.py) and the Kubernetes Helm
values (which cannot run here) name the same limits, images and environment; the code image is pinned,
non-root and prepares the dbt manifest at build time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def helm() -> dict:
    return _yaml(DEPLOY / "helm" / "values.yaml")


@pytest.fixture(scope="module")
def production() -> dict:
    return _yaml(DEPLOY / "dagster.yaml")


@pytest.fixture(scope="module")
def env_file() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (DEPLOY / "kinvolved.env").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {k: v for k, v in pairs}


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _env_refs(node) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(_env_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_env_refs(v) for v in node)) if node else set()
    return set()


def _pin(project: dict, name: str) -> str:
    everything = (project["project"]["dependencies"]
                  + sum(project["project"]["optional-dependencies"].values(), []))
    return next(d.split("==")[1] for d in everything if d.split("==")[0] == name)


def test_same_run_limits_in_every_shape(helm, production):
    embedded = _yaml(REPO / "dagster.yaml")["run_queue"]
    queue = production["run_queue"]
    helm_queue = helm["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert helm["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    # the per-customer limits are the embedded ones, unchanged
    assert (queue["tag_concurrency_limits"] == embedded["tag_concurrency_limits"]
            == helm_queue["tagConcurrencyLimits"])
    per_customer = {(limit["key"], limit["limit"]) for limit in queue["tag_concurrency_limits"]
                    if limit["value"] == {"applyLimitPerUniqueValue": True}}
    assert ("kinvolved/customer", 1) in per_customer and ("dagster/partition/customer", 1) in per_customer
    # one global cap, the same number
    assert isinstance(queue["max_concurrent_runs"],
                      int) and queue["max_concurrent_runs"] == helm_queue["maxConcurrentRuns"]
    assert production["run_retries"]["max_retries"] == helm["dagsterDaemon"]["runRetries"]["maxRetries"]
    assert production["run_retries"]["retry_on_asset_or_op_failure"] is False
    assert helm["dagsterDaemon"]["runRetries"]["retryOnAssetOrOpFailure"] is False
    assert (production["run_monitoring"]["start_timeout_seconds"]
            == helm["dagsterDaemon"]["runMonitoring"]["startTimeoutSeconds"])


def test_same_postgres_and_environment(helm, production, env_file):
    db = production["storage"]["postgres"]["postgres_db"]
    # every connection setting comes from the environment, none is written in the file
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"}, "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"}}
    pg = helm["postgresql"]
    assert db["scheme"] == pg["postgresqlScheme"] == "postgresql+psycopg2"
    assert (pg["postgresqlUsername"], pg["postgresqlDatabase"], str(pg["service"]["port"])) == \
        (env_file["DAGSTER_PG_USER"], env_file["DAGSTER_PG_DB"], env_file["DAGSTER_PG_PORT"])
    assert helm["global"]["postgresqlSecretName"] and helm["generatePostgresqlPasswordSecret"] is False
    # the env file of the one-server shape names every variable the production files read
    workspace = _yaml(DEPLOY / "workspace.yaml")
    assert _env_refs(production) | _env_refs(workspace) <= set(env_file)
    # the code location gets the same platform variables in both shapes (the executor differs by design)
    code = helm["dagster-user-deployments"]["deployments"][0]
    helm_env = {e["name"]: e["value"] for e in code["env"]}
    for name in ("KINVOLVED_HOME", "KINVOLVED_CONFIG_DIR", "DAGSTER_DISABLE_TELEMETRY",
                 "GX_ANALYTICS_ENABLED",
                 "DBT_SEND_ANONYMOUS_USAGE_STATS"):
        assert name in helm_env and name in env_file, name
    assert env_file["KINVOLVED_EXECUTOR"] == "celery" and helm_env["KINVOLVED_EXECUTOR"] == "in_process"
    assert not [k for k in helm_env if k.startswith("KINVOLVED_CELERY")], "no worker pool on Kubernetes"
    mounts = {m["mountPath"] for m in code["volumeMounts"]}
    assert {helm_env["KINVOLVED_HOME"], helm_env["KINVOLVED_CONFIG_DIR"]} <= mounts
    assert code["includeConfigInLaunchedRuns"]["enabled"] is True   # run pods mount the same volume
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"


def test_same_images_and_pins(helm, project):
    dagster = _pin(project, "dagster")
    for service in ("dagsterWebserver", "dagsterDaemon"):
        assert str(helm[service]["image"]["tag"]) == dagster, service
    code = helm["dagster-user-deployments"]["deployments"][0]
    assert code["image"]["repository"].endswith("/kinvolved-code")
    assert str(code["image"]["tag"]) == project["project"]["version"]
    assert code["dagsterApiGrpcArgs"] == ["-m", project["tool"]["dagster"]["module_name"]]
    assert code["name"] == project["tool"]["dagster"]["code_location_name"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"{code['image']['repository']}:{code['image']['tag']}" in dockerfile
    for extra in ("deploy", "k8s"):
        assert extra in project["project"]["optional-dependencies"]
    assert "dagster-k8s" in " ".join(project["project"]["optional-dependencies"]["k8s"])
    for name in ("dagster-postgres", "dagster-celery"):
        assert _pin(project, name) == _pin(project, "dagster-dbt"), f"{name} is not on dagster's release line"


def test_code_image_is_pinned_non_root_and_prepares_dbt(helm):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert "-c constraints.txt" in dockerfile and "'.[deploy,k8s]'" in dockerfile
    assert "kinvolved prepare-dbt" in dockerfile and "manifest.json" in dockerfile
    user = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert user and user[-1] != ("0", "0")
    context = helm["dagster-user-deployments"]["deployments"][0]["podSecurityContext"]
    assert context["runAsNonRoot"] is True and (str(context["runAsUser"]),
                                                str(context["runAsGroup"])) == user[-1]
    env = dict(re.findall(r"^\s+(KINVOLVED_HOME|KINVOLVED_CONFIG_DIR)=(\S+)", dockerfile, re.M))
    helm_env = {e["name"]: e["value"] for e in helm["dagster-user-deployments"]["deployments"][0]["env"]}
    assert env == {k: helm_env[k] for k in env} and len(env) == 2


def test_embedded_default_is_unchanged(monkeypatch):
    """`make demo` and the embedded instance: steps in the run worker, no worker pool needed."""
    from dagster import in_process_executor

    from kinvolved_assets.defs.executor import run_executor

    monkeypatch.delenv("KINVOLVED_EXECUTOR", raising=False)
    assert run_executor() is in_process_executor
    monkeypatch.setenv("KINVOLVED_EXECUTOR", "spark")
    with pytest.raises(ValueError, match="KINVOLVED_EXECUTOR='spark'"):
        run_executor()
    assert "storage" not in _yaml(REPO / "dagster.yaml")      # SQLite under DAGSTER_HOME


def test_pool_settings_guard_double_execution(monkeypatch):
    from kinvolved_assets.celery_pool import PoolSettingsError, celery_executor_def, celery_settings

    monkeypatch.delenv("KINVOLVED_CELERY_BROKER", raising=False)
    with pytest.raises(PoolSettingsError, match="KINVOLVED_CELERY_BROKER"):
        celery_executor_def()
    monkeypatch.setenv("KINVOLVED_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("KINVOLVED_CELERY_VISIBILITY_TIMEOUT", "600")
    monkeypatch.setenv("KINVOLVED_CELERY_TIME_LIMIT", "600")
    with pytest.raises(PoolSettingsError, match="must be below"):
        celery_settings()
    monkeypatch.setenv("KINVOLVED_CELERY_TIME_LIMIT", "500")
    settings = celery_settings()
    assert settings["task_acks_late"] is True and settings["worker_prefetch_multiplier"] == 1
    assert settings["task_time_limit"] < settings["broker_transport_options"]["visibility_timeout"] == 600
    executor = celery_executor_def()
    assert executor.name == "kinvolved_celery"
