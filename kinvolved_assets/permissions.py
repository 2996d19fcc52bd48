"""A customer's data at rest is readable by the platform's own account only: folders 0700, files 0600.

The customer's ``archive/<customer>`` and ``warehouse/<customer>`` folders are created 0700 before
anything is written below them (so nothing inside is reachable by another account even for a moment),
and every folder and file written by an ingest is then set 0700 / 0600 (``secure_tree``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make ``path`` itself 0700."""
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def secure_tree(root: Path) -> int:
    """Set every folder below ``root`` (and root) 0700 and every file 0600; returns how many changed.
    Symbolic links are left alone (never followed)."""
    changed = 0
    if not root.is_dir() or root.is_symlink():
        return 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name, want in [(".",
                            DIR_MODE)] + [(d, DIR_MODE) for d in dirnames] + [(f, FILE_MODE) for f
                                                                              in filenames]:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except FileNotFoundError:   # removed meanwhile (a temp file)
                continue
            if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == want:
                continue
            try:
                os.chmod(p, want)
                changed += 1
            except FileNotFoundError:
                continue
    return changed


def write_private(path: Path, payload: bytes | str) -> None:
    """Write ``path`` atomically as a 0600 file in a 0700 folder (a report of the customer's tree)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)   # an existing temp file keeps its mode otherwise
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(tmp, path)
