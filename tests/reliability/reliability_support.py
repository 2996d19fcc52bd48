"""Helpers of the reliability suite: a platform home with a persistent Dagster instance, the platform
run in child processes (killable with SIGKILL, process group included), and a shared baseline."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.districts import CustomerFolders

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
PYTHON = sys.executable
BIN = str(Path(PYTHON).parent)
SCHOOL_YEAR = 2026


def child_env(home: Path, config_dir: Path, dagster_home: Path, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": str(config_dir),
        "DAGSTER_HOME": str(dagster_home),
        "PATH": BIN + os.pathsep + env.get("PATH", ""), "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@dataclass
class Site(CustomerFolders):
    """One KINVOLVED_HOME + customer_configs + DAGSTER_HOME (copy of the repo's dagster.yaml)."""

    root: Path
    generated: dict = field(default_factory=dict)
    cli_output: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def config_dir(self) -> Path:
        return self.root / "customer_configs"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def prepare(self) -> Site:
        for folder in (self.home, self.config_dir, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "dagster.yaml", self.dagster_home / "dagster.yaml")
        return self

    def env(self, **extra: str) -> dict:
        return child_env(self.home, self.config_dir, self.dagster_home, **extra)

    def add_customer(self, customer_id: str, *, seed: int = 7, days: int = 5, start: dt.date | None = None,
                     generate_deliveries: bool = True, **overrides):
        return super().add_customer(customer_id, scale="tiny", seed=seed, school_year=SCHOOL_YEAR,
                                    start=start,
                                    days=days, fmt="zip", generate_deliveries=generate_deliveries,
                                    **overrides)

    def marts(self, customer_id: str) -> Path:
        return self.warehouse(customer_id) / "marts.duckdb"

    # ---- child processes -------------------------------------------------------------------------
    def start(self, *args: str, failpoint: str | None = None, env: dict | None = None) -> subprocess.Popen:
        extra = {"RELIABILITY_FAILPOINT": failpoint} if failpoint else {}
        extra.update(env or {})
        return subprocess.Popen([PYTHON, str(DRIVER), *args], env=self.env(**extra), cwd=str(self.root),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def run(self, *args: str, failpoint: str | None = None, timeout: float = 240,
            expect_ok: bool | None = True,
            env: dict | None = None):
        proc = self.start(*args, failpoint=failpoint, env=env)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise AssertionError(f"driver {args} timed out\n{err[-3000:]}") from None
        self.cli_output += [out, err]
        summary = _last_json(out)
        if expect_ok is not None:
            assert (proc.returncode
                    == 0) == expect_ok, f"driver {args} rc={proc.returncode}\n{out[-3000:]}\n{err[-5000:]}"
        return proc.returncode, summary, out, err

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(Path(BIN) / "kinvolved"), *args], env=self.env(), cwd=str(self.root),
                              capture_output=True, text=True, timeout=timeout)
        self.cli_output += [proc.stdout, proc.stderr]
        return proc


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return {}


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child and everything in its session (dbt included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_for(predicate, timeout: float, interval: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (relative path → hash)."""
    import hashlib

    out = {}
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def copy_site(template: Site, dest: Path) -> Site:
    """A fresh copy of a prepared site (absolute paths inside the Dagster instance stay valid only for
    event history; the platform itself derives every path from KINVOLVED_HOME)."""
    shutil.copytree(template.root, dest, symlinks=True)
    site = Site(dest, generated=dict(template.generated))
    shutil.copyfile(REPO / "dagster.yaml", site.dagster_home / "dagster.yaml")
    return site


def marts_digest_via(con) -> str:
    """``content_digest`` over an already open connection (a reader that opened the file earlier)."""
    import hashlib

    from kinvolved_assets.marts.reader import MART_TABLES

    digest = hashlib.sha256()
    for table in MART_TABLES:
        rows = con.execute(f"select * from {table} order by all").fetchall()
        digest.update(table.encode())
        digest.update(repr(rows).encode())
    return digest.hexdigest()


FAULTS: list[dict] = []


def record_fault(fault: str, observed: str) -> None:
    """Collected into the terminal summary: the table of faults injected and what was observed."""
    FAULTS.append({"fault": fault, "observed": observed})




# ---- a real deployment: dagster-daemon + dagster-webserver over the repo's dagster.yaml ----------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    import urllib.request

    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


START_SENSOR = """
mutation($sel: SensorSelector!) { startSensor(sensorSelector: $sel) {
  __typename ... on Sensor { name } ... on PythonError { message } } }"""
LAUNCH_BACKFILL = """
mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  ... on PartitionKeysNotFoundError { message } } }"""
LAUNCH_RUN = """
mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""


class Deployment:
    """``dagster-daemon run`` + ``dagster-webserver`` (127.0.0.1, free port) as real processes."""

    def __init__(self, site: Site):
        self.site = site
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.workspace = site.dagster_home / "workspace.yaml"
        self.workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": {
            "module_name": "kinvolved_assets.definitions", "working_directory": str(REPO),
            "location_name": "kinvolved"}}]}))

    def start(self) -> None:
        # Every run of the deployment is a fresh run-worker process; the suites' rules run on the DuckDB
        # engine here so 40 workers do not each import Great Expectations (GX itself is exercised by the
        # expectation tests and the in-process integration runs).
        env = self.site.env(KINVOLVED_SETTLE_SECONDS="0", KINVOLVED_EXPECTATIONS_ENGINE="duckdb")
        logs = self.site.root / "process_logs"
        logs.mkdir(exist_ok=True)
        commands = {
            "daemon": [str(Path(BIN) / "dagster-daemon"), "run", "-w", str(self.workspace)],
            "webserver": [str(Path(BIN) / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port),
                          "-w", str(self.workspace)],
        }
        for name, cmd in commands.items():
            self.procs[name] = subprocess.Popen(
                cmd, env=env, cwd=str(self.site.root), start_new_session=True,
                stdout=open(logs / f"{name}.out", "w"), stderr=open(logs / f"{name}.err", "w"))
        up = wait_for(self._webserver_up, timeout=180, interval=1)
        assert up, "dagster-webserver did not come up:\n" + (logs / "webserver.err").read_text()[-3000:]

    def _webserver_up(self) -> bool:
        import urllib.request

        if self.procs["webserver"].poll() is not None:
            raise AssertionError("webserver "
                                 "exited: "
                                 + (self.site.root / "process_logs/webserver.err").read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/server_info", timeout=5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_group(proc)
            # the session may still hold run workers / code servers
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ---- GraphQL actions (what an operator does in the UI) -----------------------------------------
    def _repo(self) -> dict:
        return {"repositoryLocationName": "kinvolved", "repositoryName": "__repository__"}

    def start_sensor(self, name: str) -> None:
        data = graphql(self.port, START_SENSOR, {"sel": {**self._repo(), "sensorName": name}})
        assert data["startSensor"]["__typename"] == "Sensor", data

    def backfill_assets(self, asset_paths: list[list[str]], partitions: list[str], tags: dict) -> str:
        params = {"partitionNames": partitions, "assetSelection": [{"path": p} for p in asset_paths],
                  "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        data = graphql(self.port, LAUNCH_BACKFILL, {"p": params})["launchPartitionBackfill"]
        assert data["__typename"] == "LaunchBackfillSuccess", data
        return data["backfillId"]

    def launch_run(self, job: str, partition: str, tags: dict, run_config: dict | None = None) -> str:
        params = {"selector": {**self._repo(), "jobName": job}, "runConfigData": run_config or {},
                  "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in
                                                 {"dagster/partition": partition, **tags}.items()]}}
        data = graphql(self.port, LAUNCH_RUN, {"p": params})["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    # ---- who holds what ---------------------------------------------------------------------------
    def service_pids(self) -> dict[int, str]:
        """The webserver, the daemon (its sensor, schedule, backfill and run-queue threads) and their
        code servers (where sensors are evaluated): the processes that must never open a marts/build
        DuckDB file. Run workers and their dbt children are the only writers and are not listed."""
        pids = {}
        for name, proc in self.procs.items():
            for pid in session_pids(proc.pid):
                cmd = cmdline(pid)
                if "dagster-daemon" in cmd or "dagster-webserver" in cmd or " api grpc" in cmd:
                    pids[pid] = f"{name}:{'code-server' if ' api grpc' in cmd else name}"
        return pids


def session_pids(sid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    out.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def open_duckdb_files(pid: int) -> list[str]:
    out = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if ".duckdb" in target:
                out.append(target)
    except OSError:
        pass
    return out


def rename_school(delivery: Path, name: str) -> None:
    """Rewrite the school name in every orgs.csv of a ZIP delivery (same bytes otherwise)."""
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(delivery) as zin:
        members = [(i, zin.read(i.filename)) for i in zin.infolist()]
    tmp = delivery.with_name(delivery.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in members:
            if info.filename.endswith("orgs.csv"):
                rows = list(csv.DictReader(io.StringIO(data.decode())))
                for row in rows:
                    if row["type"] == "school":
                        row["name"] = name
                out = io.StringIO()
                writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
                data = out.getvalue().encode()
            zout.writestr(info, data)
    stat = delivery.stat()
    os.replace(tmp, delivery)
    os.utime(delivery, (stat.st_atime, stat.st_mtime))


def rewrite_zip(source: Path, target: Path, transform) -> None:
    """Copy a ZIP delivery, passing each member's text through ``transform(member_name, text) -> text|None``
    (None leaves the member out)."""
    import zipfile

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            text = transform(info.filename, zin.read(info.filename).decode("utf-8"))
            if text is not None:
                zout.writestr(info.filename, text)


def malformed_delivery(source: Path, target: Path) -> None:
    """A delivery whose personal-data rows break the contract: bad birth date values, a users row with an
    extra column, a bad role, a bad enabledUser, a duplicated student row, an attendance comment."""
    def transform(name: str, text: str) -> str:
        lines = text.splitlines()
        if name == "users.csv":
            lines[1] = lines[1].replace(",student,", ",pupil,", 1)             # bad enum, names in the row
            lines[2] = lines[2].replace(",true,", ",maybe,", 1)                # bad boolean
            lines[3] = lines[3] + ",extra-cell"                              # ragged row
            lines.append(lines[4])                                           # duplicate sourcedId
        elif name == "demographics.csv":
            head = lines[0].split(",")
            col = head.index("birthDate")
            for i in (1, 2):
                cells = lines[i].split(",")
                born = cells[col]
                cells[col] = born[8:10] + "/" + born[5:7] + "/" + born[:4]   # not ISO: a bad date
                lines[i] = ",".join(cells)
        return "\n".join(lines) + "\n"

    rewrite_zip(source, target, transform)
