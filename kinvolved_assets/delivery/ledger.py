"""The delivery ledger of one customer: one row per delivery (distinct sha256), the single answer to
"was this delivery ingested?" for every path (sensor, backlog run, `kinvolved ingest`, `kinvolved
backfill`, UI materializations).

A SQLite file in the customer's warehouse (``warehouse/<customer>/ledger.sqlite``): several processes
(the daemon's run workers, the CLI, the webserver's sensor ticks) read and write it at once, which
SQLite serializes with its own file locks. Pure Python, no Dagster.

States: ``landed`` (seen, not yet run) → ``ingesting`` (a run holds it) → ``ingested`` (promoted to
raw/) | ``blocked`` (a blocking check failed; kept in quarantine) | ``failed`` (the run died or raised;
retried automatically) ; ``superseded`` (an operator replaced it by a later delivery). The arrival
sequence ``seq`` is the order in which deliveries were first seen; deliveries apply in
(delivery_date, seq) order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.permissions import private_dir

STATES = ("landed", "ingesting", "ingested", "blocked", "failed", "superseded")
# never ingested again unless an operator asks for that delivery explicitly
SETTLED = frozenset({"ingested", "blocked", "superseded"})
# picked up again by the next sensor tick or `kinvolved ingest`
PENDING = frozenset({"landed", "failed"})
# automatic attempts (sensor, `kinvolved ingest`) of one delivery; then only `kinvolved reingest`
MAX_ATTEMPTS = 3
DATE_SOURCES = ("name", "manifest", "arrival", "partition")

_SCHEMA = """
create table if not exists deliveries (
    seq integer primary key autoincrement,
    sha256 text not null unique,
    file_name text not null,
    delivery_date text not null,
    date_source text not null,
    arrived_at text not null,
    state text not null,
    run_id text,
    pid integer,
    attempts integer not null default 0,
    rows integer,
    errors integer,
    warnings integer,
    note text,
    updated_at text not null
)
"""
_COLUMNS = ("seq", "sha256", "file_name", "delivery_date", "date_source", "arrived_at", "state", "run_id",
            "pid", "attempts", "rows", "errors", "warnings", "note", "updated_at")


@dataclass(frozen=True)
class Delivery:
    seq: int
    sha256: str
    file_name: str
    delivery_date: str
    date_source: str
    arrived_at: str
    state: str
    run_id: str | None
    pid: int | None
    attempts: int
    rows: int | None
    errors: int | None
    warnings: int | None
    note: str | None
    updated_at: str

    @property
    def order(self) -> tuple[str, int]:
        return (self.delivery_date, self.seq)

    def age_seconds(self, now: float) -> float:
        return now - dt.datetime.fromisoformat(self.updated_at).timestamp()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """Open per use (``with Ledger(paths) as ledger``); every write commits at once."""

    def __init__(self, paths: CustomerPaths):
        self.paths = paths
        self.file = paths.warehouse / "ledger.sqlite"

    def __enter__(self) -> Ledger:
        private_dir(self.file.parent)
        # the file first, private (0600); SQLite gives its journal the database file's permissions
        os.close(os.open(self.file, os.O_RDWR | os.O_CREAT, 0o600))
        self._con = sqlite3.connect(self.file, timeout=60, isolation_level=None)
        self._con.execute("pragma busy_timeout = 60000")
        self._con.execute(_SCHEMA)
        return self

    def __exit__(self, *exc) -> None:
        self._con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("begin immediate")
        try:
            yield self._con
        except BaseException:
            if self._con.in_transaction:   # SQLite has already rolled back on a full disk
                self._con.execute("rollback")
            raise
        self._con.execute("commit")

    def _rows(self, where: str = "", params: tuple = ()) -> list[Delivery]:
        sql = f"select {', '.join(_COLUMNS)} from deliveries {where}"
        return [Delivery(*row) for row in self._con.execute(sql, params).fetchall()]

    def get(self, sha256: str) -> Delivery | None:
        found = self._rows("where sha256 = ?", (sha256,))
        return found[0] if found else None

    def register(self, sha256: str, file_name: str, delivery_date: str, date_source: str,
                 arrived_at: float | None = None) -> Delivery:
        """The delivery of these bytes, recorded as ``landed`` the first time they are seen."""
        arrived = (dt.datetime.fromtimestamp(arrived_at, dt.UTC).isoformat(timespec="seconds")
                   if arrived_at else _now())
        with self._write() as con:
            self._insert(con, sha256, file_name, delivery_date, date_source, arrived)
        return self.get(sha256)

    @staticmethod
    def _insert(con: sqlite3.Connection, sha256: str, file_name: str, delivery_date: str, date_source: str,
                arrived: str) -> None:
        con.execute(
            "insert into deliveries "
            "(sha256, file_name, delivery_date, date_source, arrived_at, state, pid, updated_at) "
            "values (?, ?, ?, ?, ?, 'landed', ?, ?) on conflict (sha256) do nothing",
            (sha256, file_name, delivery_date, date_source, arrived, os.getpid(), _now()))

    def start(self, sha256: str, run_id: str) -> Delivery:
        with self._write() as con:
            self._start(con, sha256, run_id)
        return self.get(sha256)

    @staticmethod
    def _start(con: sqlite3.Connection, sha256: str, run_id: str) -> None:
        con.execute("update deliveries set state = 'ingesting', run_id = ?, pid = ?, "
                    "attempts = attempts + 1, note = null, updated_at = ? "
                    "where sha256 = ?", (run_id, os.getpid(), _now(), sha256))

    def claim(self, sha256: str, file_name: str, delivery_date: str, date_source: str, run_id: str, *,
              only_new: bool = False) -> tuple[Delivery, bool]:
        """``register`` and ``start`` in one transaction: (the delivery's row, whether this run now
        holds it). Not claimed, and left as it was, when these bytes are recorded under another date
        (identical bytes are one delivery) or, with ``only_new``, when the delivery is settled."""
        with self._write() as con:
            self._insert(con, sha256, file_name, delivery_date, date_source, _now())
            before = self.get(sha256)
            claimed = before.delivery_date == delivery_date and not (only_new and before.state in SETTLED)
            if claimed:
                self._start(con, sha256, run_id)
        return (self.get(sha256) if claimed else before), claimed

    def finish(self, sha256: str, state: str, *, rows: int | None = None, errors: int | None = None,
               warnings: int | None = None, note: str | None = None) -> Delivery:
        assert state in STATES, state
        with self._write() as con:
            con.execute("update deliveries set state = ?, pid = null, rows = coalesce(?, rows), "
                        "errors = coalesce(?, errors), warnings = coalesce(?, warnings), "
                        "note = ?, updated_at = ? "
                        "where sha256 = ?", (state, rows, errors, warnings, note, _now(), sha256))
        return self.get(sha256)

    def set_state(self, sha256: str, state: str, note: str | None = None) -> Delivery:
        return self.finish(sha256, state, note=note)

    def deliveries(self) -> list[Delivery]:
        """Every delivery in application order: (delivery date, arrival sequence)."""
        return self._rows("order by delivery_date, seq")

    def accepted_between(self, start: str, end: str) -> list[Delivery]:
        return self._rows("where state = 'ingested' and delivery_date between ? and ? "
                          "order by delivery_date, seq", (start, end))

    def same_date(self, delivery_date: str) -> list[Delivery]:
        return self._rows("where delivery_date = ? order by seq", (delivery_date,))

    def find(self, ref: str) -> list[Delivery]:
        """A delivery named by an operator: its seq, a sha256 prefix (6+ characters) or its file name."""
        if ref.isdigit():
            return self._rows("where seq = ?", (int(ref),))
        by_name = self._rows("where file_name = ? order by seq", (ref,))
        if by_name:
            return by_name
        if len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref.lower()):
            return self._rows("where sha256 like ? order by seq", (ref.lower() + "%",))
        return []

    def interrupted(self) -> list[Delivery]:
        """Deliveries left ``ingesting`` by a process that is gone."""
        return [d for d in self._rows("where state = 'ingesting'") if not pid_alive(d.pid)]

    def fail_interrupted(self) -> list[Delivery]:
        """Mark deliveries of dead runs ``failed`` (retried by the next tick or `kinvolved ingest`)."""
        gone = self.interrupted()
        for delivery in gone:
            self.finish(delivery.sha256, "failed",
                        note=f"interrupted: run {delivery.run_id} (pid {delivery.pid}) "
                             "stopped before finishing")
        return gone


def ledger_file(paths: CustomerPaths) -> Path:
    return paths.warehouse / "ledger.sqlite"
