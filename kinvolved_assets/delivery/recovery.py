"""What a killed run leaves behind, found and removed by the next writer of the customer.

Called with the customer's writer lock held (``customer_lock``), so nothing found here can belong to
a live run of the customer: staging folders, partial archive copies
(``archive/<customer>/.incoming/.<name>.tmp-<pid>``), unpublished marts builds and the temp folders of
dead processes. Deliveries the ledger still shows ``ingesting`` for a dead process become ``failed``
(retried automatically). Pure Python, no Dagster.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kinvolved_assets.delivery.ledger import Ledger, pid_alive
from kinvolved_assets.paths import CustomerPaths

TMP_COPY = re.compile(r"^\..+\.tmp-(\d+)$")
PROCESS_TMP = re.compile(r"^pid-(\d+)$")


@dataclass
class Recovered:
    interrupted: list[str] = field(default_factory=list)   # "<date> <file name>" of deliveries marked failed
    removed: list[str] = field(default_factory=list)       # leftovers removed (paths relative to home)

    def summary(self) -> str:
        parts = []
        if self.interrupted:
            parts.append(f"{len(self.interrupted)} interrupted deliveries marked failed for a retry "
                         f"({', '.join(self.interrupted)})")
        if self.removed:
            parts.append(f"{len(self.removed)} leftovers of killed runs removed")
        return "; ".join(parts)


def trash_dir(warehouse: Path) -> Path:
    """Where a promotion puts the partitions it replaces until they are deleted (one listing for
    recovery, instead of a walk of every partition)."""
    return warehouse / ".trash"


def process_tmp_root(home: Path) -> Path:
    return home / "tmp"


def recover_customer(paths: CustomerPaths, keep_staging: str | None = None) -> Recovered:
    """Clean up after dead runs of this customer (the caller holds the customer's writer lock)."""
    found = Recovered()
    with Ledger(paths) as ledger:
        found.interrupted = [f"{d.delivery_date} {d.file_name}" for d in ledger.fail_interrupted()]
    staging = paths.warehouse / "staging"
    if staging.is_dir():
        for leftover in staging.iterdir():
            if leftover.name != keep_staging:
                _remove(leftover, paths.home, found)
    incoming = paths.archive_incoming   # partial archive copies (not every date's folder: one listing)
    for entry in incoming.iterdir() if incoming.is_dir() else ():
        match = TMP_COPY.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            _remove(entry, paths.home, found)
    with contextlib.suppress(OSError):   # only date folders stay in archive/<customer>/
        incoming.rmdir()
    trash = trash_dir(paths.warehouse)
    for entry in trash.iterdir() if trash.is_dir() else ():   # partitions a killed promotion replaced
        _remove(entry, paths.home, found)
    remove_dead_process_tmp(paths.home, found)
    return found


def remove_dead_process_tmp(home: Path, found: Recovered | None = None) -> None:
    root = process_tmp_root(home)
    if not root.is_dir():
        return
    for entry in root.iterdir():
        match = PROCESS_TMP.match(entry.name)
        if match and not pid_alive(int(match.group(1))):
            _remove(entry, home, found)


def _remove(path: Path, home: Path, found: Recovered | None) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
    if found is not None:
        found.removed.append(str(path.relative_to(home)) if home in path.parents else str(path))


_OPEN_TMP: dict[Path, int] = {}   # this process's temp folders in use -> how many callers hold each
_OPEN_TMP_LOCK = threading.Lock()


@contextlib.contextmanager
def process_tmp(home: Path) -> Iterator[Path]:
    """Temp files of this process (extracted ZIPs, spill files) under ``home/tmp/pid-<pid>/``, so the
    next start removes what a SIGKILL left, and a full disk is the platform's disk, not /tmp's. The
    folder is removed when its last caller in this process leaves: only a killed process leaves one."""
    folder = process_tmp_root(home) / f"pid-{os.getpid()}"
    with _OPEN_TMP_LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        _OPEN_TMP[folder] = _OPEN_TMP.get(folder, 0) + 1
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous
        with _OPEN_TMP_LOCK:
            _OPEN_TMP[folder] -= 1
            if _OPEN_TMP[folder] == 0:
                del _OPEN_TMP[folder]
                shutil.rmtree(folder, ignore_errors=True)
