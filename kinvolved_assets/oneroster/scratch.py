"""The process's throwaway in-memory DuckDB for reading and checking files (never the warehouse).

Opening an in-memory DuckDB costs ~15 ms, more than loading a nightly file, so each process keeps
one per setting and hands out cursors: a cursor is its own connection with its own temp tables,
dropped when the cursor closes, so nothing outlives the file that created it. Spills go to a
private temp folder removed at exit.

Large files get a database of their own (``private_database``), closed after the file: the memory
a multi-million-row file needed is then given back instead of staying with the process (a backlog
run is followed by a dbt build that needs it). Before a large file loads, ``release_idle`` lets go of
the scratch databases (~20 to 30 MiB each once used), so that they do not add to its peak.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import threading

import duckdb

from ..sql import string

_lock = threading.Lock()
_databases: dict[tuple, duckdb.DuckDBPyConnection] = {}
_spill_dirs: dict[tuple, str] = {}


def _configure(db: duckdb.DuckDBPyConnection, threads: int, memory_limit: str, spill: str,
               keep_order: bool) -> None:
    db.execute(f"SET threads = {max(1, int(threads))}")
    db.execute(f"SET memory_limit = {string(str(memory_limit))}")
    db.execute(f"SET temp_directory = {string(spill)}")
    db.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")
    db.execute("SET TimeZone = 'UTC'")


def private_database(threads: int, memory_limit: str, spill_dir: str, *,
                     keep_order: bool = True) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB for one large file; closing the connection frees all of it."""
    db = duckdb.connect(":memory:")
    _configure(db, threads, memory_limit, spill_dir, keep_order)
    return db


def scratch_cursor(threads: int = 2, memory_limit: str = "4GB", *,
                   keep_order: bool = True) -> duckdb.DuckDBPyConnection:
    """A new connection on the process's scratch database for these settings (close it when done).

    ``keep_order``: rows keep the order they were read in (the loader numbers rows by it).
    """
    key = (os.getpid(), max(1, int(threads)), str(memory_limit), bool(keep_order))
    with _lock:
        db = _databases.get(key)
        if db is None:
            spill = _spill_dirs.get(key)
            if spill is None:
                spill = _spill_dirs[key] = tempfile.mkdtemp(prefix="kv-scratch-")
                atexit.register(shutil.rmtree, spill, True)
            db = duckdb.connect(":memory:")
            _configure(db, key[1], key[2], spill, keep_order)
            _databases[key] = db
    cur = db.cursor()
    cur.execute("SET TimeZone = 'UTC'")
    return cur


def release_idle() -> None:
    """Let go of the process's scratch databases; the next ``scratch_cursor`` opens a new one (~15 ms).

    A database still used by an open cursor lives on until that cursor is closed (each cursor holds
    the database), so this is safe while other threads work. Then hand freed heap pages back to the
    system (glibc ``malloc_trim``; elsewhere nothing)."""
    with _lock:
        _databases.clear()
    _trim_heap()


@functools.lru_cache(maxsize=1)
def _libc():
    """glibc, or None (another C library or none found: the heap calls below then do nothing).
    Looked up once: ``find_library`` costs 1 to 4 ms and the heap is trimmed before every large file."""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        return ctypes.CDLL(name) if name else None
    except (OSError, AttributeError, ValueError):
        return None


def _trim_heap() -> None:
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:
        pass


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives every thread that allocates a heap arena of its own and keeps what is freed there:
    with files loading on two threads a backlog run's resident memory crept from ~130 to ~450 MiB
    over a school year of deliveries. Capping the arenas keeps it at 100 to 155 MiB between deliveries."""
    libc = _libc()
    try:
        if libc is not None:
            libc.mallopt(-8, int(arenas))   # M_ARENA_MAX
    except AttributeError:
        pass
