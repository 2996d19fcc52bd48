"""A full disk is the operator's problem, never a finding against the district's file.

``preflight`` refuses to start a delivery when KINVOLVED_HOME has less free space than the delivery
may need; ``is_disk_full`` recognises the error when the disk fills up anyway (another process
wrote meanwhile), wherever it is raised (Python, DuckDB, SQLite). Pure Python, no Dagster.
"""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path

# bytes a delivery may need per byte of its CSV: the extracted copy, the staged Parquet, rejects and
# the DuckDB spill files; KINVOLVED_DISK_FACTOR overrides it (0 turns the check off)
DEFAULT_FACTOR = 2.0
FULL_MARKERS = ("no space left on device", "disk full", "not enough space", "database or disk is full")


class DiskFull(OSError):
    """No space left under KINVOLVED_HOME; the message says how much is free and needed."""

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def is_disk_full(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc,
                      DiskFull) or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)):
            return True
        if any(marker in str(exc).lower() for marker in FULL_MARKERS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def free_bytes(path: Path) -> int:
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def delivery_bytes(delivery: Path) -> int:
    """The bytes of CSV a delivery holds once extracted (a ZIP's uncompressed sizes, a folder's files)."""
    delivery = Path(delivery)
    if delivery.is_dir():
        return sum(p.stat().st_size for p in delivery.rglob("*") if p.is_file())
    try:
        with zipfile.ZipFile(delivery) as archive:
            return sum(info.file_size for info in archive.infolist()) + delivery.stat().st_size
    except (zipfile.BadZipFile, OSError):
        return delivery.stat().st_size if delivery.exists() else 0


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def disk_full_message(where: Path, needed: int | None, what: str) -> str:
    free = free_bytes(where)
    need = f", {_human(needed)} needed" if needed else ""
    return (f"no space left under KINVOLVED_HOME ({where}): {_human(free)} free{need} to {what}; nothing was "
            "lost (the delivery stays pending and the published marts are unchanged): free some space and "
            "run the same command again")


def preflight(where: Path, delivery: Path, what: str) -> None:
    factor = float(os.environ.get("KINVOLVED_DISK_FACTOR", DEFAULT_FACTOR))
    if factor <= 0:
        return
    needed = int(delivery_bytes(delivery) * factor)
    if free_bytes(where) < needed:
        raise DiskFull(disk_full_message(where, needed, what))
