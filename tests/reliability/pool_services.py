"""A real PostgreSQL 15 and a real Redis for the deployment tests: loopback only, free ports, data in
temporary folders, stopped and removed at the end.

``initdb`` and ``postgres`` refuse to run as root: as root, the server runs as the ``postgres`` system
user (created by Debian's package), or as an unprivileged ``kinvolved-pg`` user created here when that
one is missing. Missing binaries are an error naming the package to install (``.ci/run`` / ``make test``
install them when run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER, PG_PASSWORD, PG_DB = "dagster", "kinvolved-test-password", "dagster"


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} not found on PATH: install {package} (apt-get install -y {package})")
    return found


def _unprivileged_account() -> pwd.struct_passwd | None:
    """None when not root; else the account the database server runs as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "kinvolved-pg"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "kinvolved-pg"],
                   check=True, capture_output=True)
    return pwd.getpwnam("kinvolved-pg")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kinvolved-pg-")))
    proc: subprocess.Popen | None = None

    def _as_owner(self, account) -> dict:
        if account is None:
            return {}
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def start(self) -> Postgres:
        account = _unprivileged_account()
        data, pwfile = self.root / "data", self.root / "pwfile"
        pwfile.write_text(PG_PASSWORD + "\n")
        if account is not None:
            os.chmod(self.root, 0o700)
            for path in (self.root, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(
            [_binary("initdb", "postgresql"), "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile),
             "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync"],
            env=env, cwd=str(self.root), capture_output=True, text=True, **self._as_owner(account))
        assert proc.returncode == 0, f"initdb failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        log = open(self.root / "postgres.log", "w")
        self.proc = subprocess.Popen(
            [_binary("postgres", "postgresql"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
             "-k", str(self.root), "-c", "fsync=off", "-c", "max_connections=200"],
            env=env, cwd=str(self.root), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            **self._as_owner(account))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, ("postgres exited:\n"
                                              + (self.root / "postgres.log").read_text()[-3000:])
            try:
                self.connect("postgres").close()
                break
            except Exception:  # noqa: BLE001 - not accepting connections yet
                time.sleep(0.3)
        else:
            raise AssertionError("postgres did not accept "
                                 "connections:\n" + (self.root / "postgres.log").read_text())
        con = self.connect("postgres")
        con.autocommit = True
        con.cursor().execute(f"create database {PG_DB}")
        con.close()
        return self

    def connect(self, db: str = PG_DB):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=PG_USER, password=PG_PASSWORD,
                                dbname=db, connect_timeout=5)

    def env(self) -> dict[str, str]:
        """What deploy/dagster.yaml reads."""
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": PG_USER,
                "DAGSTER_PG_PASSWORD": PG_PASSWORD, "DAGSTER_PG_DB": PG_DB}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)      # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kinvolved-redis-")))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        log = open(self.root / "redis.log", "w")
        self.proc = subprocess.Popen(
            [_binary("redis-server", "redis-server"), "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.root), "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            cwd=str(self.root), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, ("redis-server exited:\n"
                                              + (self.root / "redis.log").read_text()[-3000:])
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2).ping():
                    return self
            except redis.RedisError:
                time.sleep(0.2)
        raise AssertionError("redis-server did not answer PING")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
