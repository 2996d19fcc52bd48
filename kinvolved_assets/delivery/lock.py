"""One writer per customer: an OS file lock (``flock``) on ``warehouse/<customer>/.writer.lock``.

Every path that writes a customer's warehouse takes it: a delivery being ingested (Dagster runs of
the daemon, the backlog op, the CLI's in-process runs), a marts build, and the CLI commands for the
whole of their work. The kernel releases it when the holder dies (SIGKILL included), so a stale lock
never needs clearing. Re-entrant inside one process (a CLI command holding it runs its jobs in
process). The lock file names the current holder (pid, what it does) for the message of a waiter.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator

from kinvolved_assets.paths import CustomerPaths

DEFAULT_WAIT_SECONDS = float(os.environ.get("KINVOLVED_LOCK_WAIT_SECONDS", "3600"))

_held: dict[str, tuple[int, int]] = {}   # lock path -> (fd, depth) held by this process
_guard = threading.RLock()


class CustomerBusy(RuntimeError):
    """Another process holds the customer's writer lock for longer than the wait allowed."""


def lock_path(paths: CustomerPaths):
    return paths.warehouse / ".writer.lock"


def holder_of(paths: CustomerPaths) -> str:
    """What the lock file says about its holder ('' when nobody ever held it)."""
    try:
        return lock_path(paths).read_text().strip()
    except OSError:
        return ""


def is_locked(paths: CustomerPaths) -> bool:
    """True when another process holds the lock right now (probe without waiting)."""
    key = str(lock_path(paths))
    with _guard:
        if key in _held:
            return False
    if not lock_path(paths).exists():
        return False
    fd = os.open(key, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def customer_lock(paths: CustomerPaths, holder: str, *, wait_seconds: float | None = None,
                  on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the customer's writer lock; wait (telling ``on_wait`` once) while another process has it."""
    key = str(lock_path(paths))
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return
    paths.warehouse.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, paths, wait_seconds if wait_seconds is not None else DEFAULT_WAIT_SECONDS, on_wait)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {holder}\n".encode(), 0)
        with _guard:
            _held[key] = (fd, 1)
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, paths: CustomerPaths, wait_seconds: float, on_wait) -> None:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        who = holder_of(paths) or "another process"
        if time.monotonic() >= deadline:
            raise CustomerBusy(f"customer {paths.customer_id} is being ingested by {who}; "
                               f"gave up after waiting {wait_seconds:.0f} s, try again when it has finished")
        if not told and on_wait is not None:
            on_wait(f"customer {paths.customer_id} is being ingested by {who}; waiting for it to finish")
            told = True
        time.sleep(0.2)
