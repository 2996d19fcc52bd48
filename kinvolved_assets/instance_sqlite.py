"""The local Dagster instance's SQLite files without two fsyncs per event.

Dagster's SQLite storages (``DAGSTER_HOME/history``, ``storage/<run_id>.db``, ``schedules``) are in
WAL mode and open a fresh connection per event (``NullPool``). With SQLite's defaults every commit
fsyncs the WAL and every close of the last connection checkpoints it (two more fsyncs): on this
platform's 2-core machines that was 10-20 ms per event, and one nightly delivery writes ~520 events
(~1,600 connections), most of a tiny district's nightly cost.

``install()`` makes Dagster's WAL-mode SQLite connections in this process use ``synchronous=NORMAL``
(SQLite's recommended setting for WAL: a process crash loses nothing, a power loss may lose the last
transactions but never corrupts the file) and keeps one idle connection open per file, so that
closing a per-event connection is not the last close and does not checkpoint (SQLite still
checkpoints every 1,000 pages). Only SQLAlchemy connections to WAL-mode files are touched: the
delivery ledger (plain ``sqlite3``, its own durability), in-memory instances and PostgreSQL are
not. ``KINVOLVED_INSTANCE_SQLITE_SYNC=full`` keeps SQLite's defaults.
"""

from __future__ import annotations

import os
import sqlite3
import threading

MAX_KEPT_FILES = 64       # idle connections held per process (one per instance file, least recently used
                          # dropped)
_kept: dict[str, sqlite3.Connection] = {}
_inherited: list[sqlite3.Connection] = []   # kept across a fork, never used or closed by the child
_lock = threading.Lock()
_installed = False


def _on_connect(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    try:
        path = dbapi_connection.execute("pragma database_list").fetchone()[2]
        if not path or dbapi_connection.execute("pragma journal_mode").fetchone()[0] != "wal":
            return
        dbapi_connection.execute("pragma synchronous=NORMAL")
        with _lock:
            if path in _kept:
                _kept[path] = _kept.pop(path)   # most recently used last
                return
            while _kept and len(_kept) >= MAX_KEPT_FILES:   # a long-lived process (daemon, webserver): remove
                                                            # the oldest
                oldest = _kept.pop(next(iter(_kept)))
                try:
                    oldest.close()
                except sqlite3.Error:
                    pass
            keeper = sqlite3.connect(path, check_same_thread=False, timeout=30)
            keeper.execute("select count(*) from sqlite_master").fetchone()   # maps the WAL index
            _kept[path] = keeper
    except sqlite3.Error:
        return   # a file being created or locked: this connection simply keeps SQLite's defaults


def _after_fork_in_child() -> None:
    _inherited.extend(_kept.values())
    _kept.clear()


def install() -> None:
    """Idempotent; a no-op with ``KINVOLVED_INSTANCE_SQLITE_SYNC=full``."""
    global _installed
    if _installed or os.environ.get("KINVOLVED_INSTANCE_SQLITE_SYNC", "").lower() == "full":
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _on_connect)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    _installed = True
