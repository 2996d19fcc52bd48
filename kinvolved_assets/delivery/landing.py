"""Deliveries in a landing folder: discover deliveries, tell complete from partial, hash, date, archive.

Pure Python (no Dagster). A *delivery* is one of:
- a ZIP file directly in the landing folder;
- a sub-folder of CSV files;
- loose CSV files directly in the landing folder, grouped into one delivery per delivery date.

The delivery date comes from a date in the name (``20250902``, ``2025-09-02``, ``2025_09_02``), else
from the ``delivery.date`` row of the delivery's ``manifest.csv`` (ZIP and folder deliveries), else from the
newest modification time in the customer's timezone; the ledger records which (``name``,
``manifest``, ``arrival``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from kinvolved_assets.paths import CustomerPaths, check_date, ensure_within
from kinvolved_assets.permissions import private_dir, secure_tree

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart", ".uploading")
DATE_IN_NAME = re.compile(r"(?<!\d)(20\d{2})[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")
HASH_CHUNK = 1 << 20
# manifest.csv row naming the delivery's date when the delivery's name has none (docs/oneroster-plus.md)
MANIFEST_DATE_PROPERTY = "delivery.date"
MANIFEST_MAX_BYTES = 64 << 10


@dataclass(frozen=True)
class LandedDelivery:
    """A candidate delivery in a landing folder."""

    kind: str                    # "zip" | "folder" | "loose"
    name: str                    # file/folder name, or "loose_<date>" for loose CSVs
    paths: tuple[Path, ...]      # the files that make up the delivery
    delivery_date: str           # YYYY-MM-DD
    size: int                    # total bytes
    mtime: float                 # newest modification time
    root: Path | None = None     # folder deliveries: the folder; loose deliveries: the landing folder
    date_source: str = "name"    # where delivery_date came from: "name" | "manifest" | "arrival" (mtime)

    @property
    def signature(self) -> str:
        """Changes whenever any file of the delivery grows or is rewritten."""
        return f"{self.size}:{self.mtime:.6f}:{len(self.paths)}"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def date_from_name(name: str) -> str | None:
    match = DATE_IN_NAME.search(name)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _local_date(timestamp: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).astimezone(tz).date().isoformat()


def _manifest_text(entry: Path) -> str | None:
    """The top-level manifest.csv of a folder or ZIP delivery (at most MANIFEST_MAX_BYTES), else None."""
    try:
        if entry.is_dir():
            found = [p for p in entry.iterdir() if p.name.lower() == "manifest.csv" and p.is_file()
                     and not p.is_symlink()]
            if len(found) != 1 or found[0].stat().st_size > MANIFEST_MAX_BYTES:
                return None
            raw = found[0].read_bytes()
        else:
            with zipfile.ZipFile(entry) as z:
                found = [i for i in z.infolist() if i.filename.rsplit("/", 1)[-1].lower() == "manifest.csv"
                         and i.filename.count("/") <= 1 and not i.is_dir()]
                if len(found) != 1 or found[0].file_size > MANIFEST_MAX_BYTES:
                    return None
                raw = z.read(found[0])
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError):
        return None   # unreadable or still being copied: the delivery's own checks report it
    return raw.decode("utf-8-sig", errors="replace")


def date_from_manifest(entry: Path) -> str | None:
    """The delivery's ``delivery.date`` manifest row (YYYY-MM-DD), when it holds a valid date."""
    text = _manifest_text(entry)
    if not text:
        return None
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0].strip().lower() == MANIFEST_DATE_PROPERTY:
            value = row[1].strip()
            try:
                return dt.date.fromisoformat(value).isoformat() if len(value) == 10 else None
            except ValueError:
                return None
    return None


def _dated(name: str, mtime: float, tz: ZoneInfo, entry: Path | None = None) -> tuple[str, str]:
    """(delivery date, its source): the date in the name, else the manifest's ``delivery.date``
    (``entry``: a folder or ZIP delivery), else the arrival (modification) time's date."""
    named = date_from_name(name)
    if named:
        return named, "name"
    declared = date_from_manifest(entry) if entry is not None else None
    return (declared, "manifest") if declared else (_local_date(mtime, tz), "arrival")


def _visible(path: Path) -> bool:
    name = path.name
    return not (name.startswith(".") or name.startswith("~") or name == "__MACOSX"
                or name.lower().endswith(PARTIAL_SUFFIXES))


def find_deliveries(landing: Path, tz: ZoneInfo, *, date: str | None = None,
               names: set[str] | None = None) -> list[LandedDelivery]:
    """List the candidate deliveries in ``landing`` (non-recursive, symlinks ignored).

    ``date`` keeps the deliveries of that delivery date and ``names`` the entries of those names; both skip
    the other entries before listing their files, so a run looking for one delivery does not pay for the
    landing folder's whole history.
    """
    if not landing.is_dir():
        return []
    deliveries: list[LandedDelivery] = []
    loose: dict[str, list[Path]] = {}
    loose_sources: dict[str, set[str]] = {}
    for entry in sorted(landing.iterdir()):
        if names is not None and entry.name not in names:
            continue
        if date is not None and date_from_name(entry.name) not in (None, date):
            continue
        if entry.is_symlink() or not _visible(entry) or not _utf8_name(entry.name):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.is_symlink()
                           and all(_visible(Path(part)) for part in p.relative_to(entry).parts))
            stats = [p.stat() for p in files]
            mtime = max([s.st_mtime for s in stats] + [entry.stat().st_mtime])
            day, source = _dated(entry.name, mtime, tz, entry)
            deliveries.append(LandedDelivery("folder", entry.name, tuple(files), day,
                                    sum(s.st_size for s in stats), mtime, root=entry, date_source=source))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            st = entry.stat()
            day, source = _dated(entry.name, st.st_mtime, tz, entry)
            deliveries.append(LandedDelivery("zip", entry.name, (entry,), day, st.st_size, st.st_mtime,
                                    date_source=source))
        elif entry.is_file() and entry.suffix.lower() == ".csv":
            st = entry.stat()
            day, source = _dated(entry.name, st.st_mtime, tz)
            loose.setdefault(day, []).append(entry)
            loose_sources.setdefault(day, set()).add(source)
    for day, files in sorted(loose.items()):
        stats = [p.stat() for p in files]
        source = "name" if loose_sources[day] == {"name"} else "arrival"
        deliveries.append(LandedDelivery("loose", f"loose_{day}", tuple(files), day,
                                         sum(s.st_size for s in stats),
                                max(s.st_mtime for s in stats), root=landing, date_source=source))
    if date is not None:
        deliveries = [d for d in deliveries if d.delivery_date == date]
    return deliveries


def _utf8_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:   # undecodable bytes arrive as lone surrogates
        return False
    return True


def unreadable_names(landing: Path) -> list[str]:
    """Landing entries whose names are not valid UTF-8 (never ingested), shown escaped."""
    from kinvolved_assets.oneroster.findings import printable

    if not landing.is_dir():
        return []
    return sorted(printable(e.name) for e in landing.iterdir() if not _utf8_name(e.name))


def incomplete_reason(delivery: LandedDelivery) -> str | None:
    """Why a delivery is not ready to ingest yet (or never will be), or None when it looks complete."""
    if delivery.size == 0 or not delivery.paths:
        return "empty: no bytes delivered"
    if delivery.kind == "zip":
        try:
            with zipfile.ZipFile(delivery.paths[0]) as archive:
                if not archive.namelist():
                    return "empty: the ZIP has no members"
        except UnicodeDecodeError:   # complete, but a member name is not UTF-8: the reader reports it
            return None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return "partial: the ZIP does not open yet (upload still in progress or truncated)"
    return None


def delivery_sha256(delivery: LandedDelivery) -> str:
    """Content hash of the delivery: the ZIP's bytes, or sorted (relative name, file hash) pairs."""
    if delivery.kind == "zip":
        return file_sha256(delivery.paths[0])
    return _combined_sha256(delivery, {path: file_sha256(path) for path in delivery.paths})


def _combined_sha256(delivery: LandedDelivery, file_hashes: dict[Path, str]) -> str:
    """A folder or loose delivery's hash from the hash of each of its files."""
    digest = hashlib.sha256()
    for path in sorted(delivery.paths):
        # a name's bytes, valid UTF-8 or not
        digest.update(os.fsencode(_relative(delivery, path).as_posix()))
        digest.update(b"\0")
        digest.update(file_hashes[path].encode())
        digest.update(b"\n")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class DeliveryChanged(ValueError):
    """The bytes copied into the archive do not hash to the delivery's sha256: the delivery changed after
    it was hashed. Nothing is left in the archive."""


def _copy_atomic(src: Path, dest: Path, expected: str | None = None, tmp_dir: Path | None = None) -> str:
    """Copy ``src`` to ``dest`` (renamed into place once synced; copied in ``tmp_dir``, same file system,
    when given), hashing the bytes while they are copied: their sha256. Bytes that do not hash to
    ``expected`` (when given) are not put in place."""
    tmp = (tmp_dir or dest.parent) / f".{dest.name}.tmp-{os.getpid()}"
    try:
        digest = hashlib.sha256()
        with open(src, "rb") as source, open(tmp, "wb") as out:
            while chunk := source.read(HASH_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        if expected is not None and sha != expected:
            raise DeliveryChanged(f"{src.name} changed while it was archived (its bytes no longer hash to "
                              f"{expected[:12]})")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)   # a full disk, a kill or changed bytes: no partial copy left behind
        raise
    return sha


def archive_delivery(delivery: LandedDelivery, paths: CustomerPaths, sha256: str,
                     member_hashes: dict[str, tuple[int, str]] | None = None) -> Path:
    """Copy the original bytes to ``archive/<customer>/<date>/`` (idempotent, never overwrites),
    hashing them while they are copied: the archived bytes are the ones that hash to ``sha256``, else
    ``DeliveryChanged`` and nothing is archived (one read of the delivery, not a hash and then a copy).

    Returns the archived delivery (a ZIP file or a folder) to read from. ``member_hashes``, when given,
    gets a copied folder's (size, sha256) per file (its relative path): the reader does not hash them
    again.
    """
    day_dir = paths.archive_partition(check_date(delivery.delivery_date))
    private_dir(paths.archive)
    private_dir(day_dir)
    existing = find_archived(paths, delivery.delivery_date, sha256)
    if existing is not None:
        return existing
    name = delivery.name
    target = day_dir / name
    if target.exists() or (day_dir / f"{name}.sha256").exists():
        target = day_dir / f"{Path(name).stem}__{sha256[:12]}{Path(name).suffix}"
    ensure_within(target, paths.archive)
    incoming = paths.archive_incoming
    private_dir(incoming)
    try:
        _copy_into(delivery, target, sha256, incoming, member_hashes)
    finally:
        # empty again once the copy is renamed into place: archive/<customer>/ holds date folders only
        # (a killed copy leaves it, with the copy, for recovery)
        with contextlib.suppress(OSError):
            incoming.rmdir()
    (day_dir / f"{target.name}.sha256").write_text(f"{sha256}  {target.name}\n", errors="surrogateescape")
    secure_tree(day_dir)
    return target


def _copy_into(delivery: LandedDelivery, target: Path, sha256: str, incoming: Path,
               member_hashes: dict[str, tuple[int, str]] | None) -> None:
    """The delivery's bytes copied into ``incoming`` (hashed on the way), then renamed to ``target``; the
    caller holds the customer's writer lock (one copy of the customer at a time)."""
    if delivery.kind == "zip":
        _copy_atomic(delivery.paths[0], target, sha256, tmp_dir=incoming)
    else:
        staging = incoming / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            copied = {}
            for src in delivery.paths:
                dest = staging / _relative(delivery, src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                copied[src] = _copy_atomic(src, dest)
            if _combined_sha256(delivery, copied) != sha256:
                raise DeliveryChanged(f"{delivery.name} changed while it was archived (its files no longer "
                                      f"hash to {sha256[:12]})")
            os.replace(staging, target)
            if member_hashes is not None:
                for src, digest in copied.items():
                    rel = _relative(delivery, src)
                    member_hashes[rel.as_posix()] = ((target / rel).stat().st_size, digest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _relative(delivery: LandedDelivery, path: Path) -> Path:
    return path.relative_to(delivery.root) if delivery.root is not None else Path(path.name)


def find_archived(paths: CustomerPaths, delivery_date: str, sha256: str | None = None) -> Path | None:
    """The archived delivery for a date: the one with ``sha256`` if given, else the newest."""
    day_dir = paths.archive_partition(delivery_date)
    if not day_dir.is_dir():
        return None
    candidates = []
    for marker in day_dir.glob("*.sha256"):
        recorded = marker.read_text().split()[0] if marker.stat().st_size else ""
        target = day_dir / marker.name[: -len(".sha256")]
        if not target.exists():
            continue
        if sha256 is None or recorded == sha256:
            candidates.append((marker.stat().st_mtime, target))
    if not candidates:
        return None
    return max(candidates)[1]


def delivery_dates_between(customer, home: Path, start: str, end: str) -> list[str]:
    """Dates in [start, end] with an archived or landed delivery for the customer."""
    check_date(start)
    check_date(end)
    paths = customer.paths(home)
    dates = {d.delivery_date for d in find_deliveries(customer.landing_dir(home), customer.tz)}
    if paths.archive.is_dir():
        dates.update(p.name for p in paths.archive.iterdir() if p.is_dir() and not p.name.startswith("."))
    return sorted(d for d in dates if start <= d <= end)
