"""The local Dagster instance's SQLite files without an fsync per event (``instance_sqlite``): a real
on-disk Dagster instance stores a run's events with ``synchronous=NORMAL`` and one kept connection per
file; files not in WAL mode and plain ``sqlite3`` connections (the delivery ledger's) keep SQLite's
defaults."""

from __future__ import annotations

import sqlite3

import sqlalchemy as db
from sqlalchemy.pool import NullPool

from kinvolved_assets import instance_sqlite

FULL, NORMAL = 2, 1


def _synchronous(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("pragma synchronous").scalar()


def test_only_wal_files_opened_through_sqlalchemy_get_normal_sync(tmp_path):
    instance_sqlite.install()
    wal_file, rollback_file = tmp_path / "events.db", tmp_path / "rollback.db"
    with sqlite3.connect(wal_file) as con:
        con.execute("pragma journal_mode=WAL")
    sqlite3.connect(rollback_file).close()
    wal = db.create_engine(f"sqlite:///{wal_file}", poolclass=NullPool)
    rollback = db.create_engine(f"sqlite:///{rollback_file}", poolclass=NullPool)
    assert _synchronous(wal) == NORMAL
    assert _synchronous(rollback) == FULL
    assert str(wal_file) in instance_sqlite._kept and str(rollback_file) not in instance_sqlite._kept
    plain = sqlite3.connect(wal_file)   # the ledger's way: not SQLAlchemy, SQLite's defaults
    try:
        assert plain.execute("pragma synchronous").fetchone()[0] == FULL
    finally:
        plain.close()


def test_a_run_on_an_on_disk_instance_keeps_its_event_files_open_with_normal_sync(tmp_path):
    from dagster import DagsterInstance, job, op

    instance_sqlite.install()

    @op
    def step():
        return 1

    @job
    def one_step():
        step()

    (tmp_path / "dagster_home").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "dagster_home")) as instance:
        result = one_step.execute_in_process(instance=instance)
        assert result.success
        events = instance.all_logs(result.run_id)
        types = {e.dagster_event.event_type_value for e in events if e.dagster_event}
        assert {"PIPELINE_START", "STEP_OUTPUT", "PIPELINE_SUCCESS"} <= types, types
    kept = [path for path in instance_sqlite._kept if path.startswith(str(tmp_path))]
    assert any(path.endswith(f"{result.run_id}.db") for path in kept), kept
    for path in kept:
        engine = db.create_engine(f"sqlite:///{path}", poolclass=NullPool)
        assert _synchronous(engine) == NORMAL, path


def test_a_long_lived_process_keeps_the_most_recent_files(tmp_path, monkeypatch):
    instance_sqlite.install()
    monkeypatch.setattr(instance_sqlite, "MAX_KEPT_FILES", 2)
    paths = []
    for n in range(4):
        path = tmp_path / f"run-{n}.db"
        with sqlite3.connect(path) as con:
            con.execute("pragma journal_mode=WAL")
        _synchronous(db.create_engine(f"sqlite:///{path}", poolclass=NullPool))
        paths.append(str(path))
    kept = [p for p in instance_sqlite._kept if p.startswith(str(tmp_path))]
    assert kept == paths[-2:]   # the oldest were dropped, the newest are kept
