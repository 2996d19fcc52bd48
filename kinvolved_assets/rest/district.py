"""The records a local provider serves: a generated district's deliveries replayed up to an as-of date.

The generator writes one OneRoster+ delivery per weekday (bulk or delta). Replaying them in date order
gives what a SIS would hold on each day, with the history a REST API exposes:
- a delta row is upserted as sent (its ``status`` and ``dateLastModified``);
- a bulk row that is new or changed becomes ``active`` with ``dateLastModified`` = that day 23:15Z
  (the generator's time of day for changes); a record a bulk leaves out (roster: the whole entity;
  attendance: the bulk's dates x schools) turns ``tobedeleted`` at that time, so a delta pull sees
  the deletion;
- the first bulk's records get ``dateLastModified`` spread over the 28 days before it (a SIS's
  records were not all modified at one instant).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import zipfile
import zlib
from pathlib import Path

from kinvolved_assets.delivery.landing import date_from_name
from kinvolved_assets.oneroster import spec

_STEMS = {e.file_stem.lower(): e.name for e in spec.ENTITIES}
STAMP_TIME = "T23:15:00Z"


def _members(delivery: Path) -> dict[str, bytes]:
    if delivery.is_dir():
        return {p.name: p.read_bytes() for p in sorted(delivery.iterdir()) if p.suffix.lower() == ".csv"}
    with zipfile.ZipFile(delivery) as archive:
        return {Path(n).name: archive.read(n) for n in archive.namelist() if n.lower().endswith(".csv")}


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def list_deliveries(district: Path) -> list[tuple[dt.date, Path]]:
    """The generated deliveries of a folder (ZIPs or sub-folders with a date in the name), in date order."""
    found = []
    for entry in sorted(Path(district).iterdir()):
        if entry.name.startswith(".") or not (entry.is_dir() or entry.suffix.lower() == ".zip"):
            continue
        day = date_from_name(entry.name)
        if day:
            found.append((dt.date.fromisoformat(day), entry))
    return sorted(found)


class DistrictState:
    """Thread-safe current records per entity, keyed by sourcedId (rows as contract CSV strings)."""

    def __init__(self, district: Path):
        self.deliveries = list_deliveries(district)
        if not self.deliveries:
            raise ValueError(f"{district} holds no generated deliveries (ZIPs or folders with a date in the "
                             "name)")
        self.records: dict[str, dict[str, dict[str, str]]] = {e.name: {} for e in spec.ENTITIES}
        self.as_of: dt.date | None = None
        self.lock = threading.RLock()
        self.version = 0                       # bumped by every change; keys the query cache
        self._cache: dict = {}

    def advance(self, to: dt.date) -> int:
        """Apply every delivery dated on or before ``to`` not applied yet; returns how many were applied."""
        applied = 0
        with self.lock:
            for day, path in self.deliveries:
                if (self.as_of is None or day > self.as_of) and day <= to:
                    self._apply(day, path)
                    applied += 1
            self.as_of = max(self.as_of or to, to)
        return applied

    def _apply(self, day: dt.date, path: Path) -> None:
        self.version += 1
        members = _members(path)
        modes = {}
        if spec.MANIFEST_FILE in members:
            for row in _rows(members.pop(spec.MANIFEST_FILE)):
                key, value = row.get("propertyName", ""), row.get("value", "")
                if key.startswith("file."):
                    modes[key[5:].lower()] = value.strip().lower()
        for name, data in members.items():
            stem = Path(name).stem.lower()
            entity = _STEMS.get(stem)
            if entity is None:
                continue
            rows = _rows(data)
            mode = modes.get(stem) or ("delta" if rows and all(r.get("status") for r in rows) else "bulk")
            if mode == "bulk":
                self._apply_bulk(entity, rows, day)
            else:
                for row in rows:
                    if not row.get("dateLastModified"):
                        row["dateLastModified"] = f"{day}{STAMP_TIME}"
                    self.records[entity][row["sourcedId"]] = row

    def _apply_bulk(self, entity: str, rows: list[dict[str, str]], day: dt.date) -> None:
        current = self.records[entity]
        first = not current
        stamp = f"{day}{STAMP_TIME}"
        incoming = {}
        for row in rows:
            sid = row["sourcedId"]
            old = current.get(sid)
            content = {k: v for k, v in row.items() if k not in ("status", "dateLastModified")}
            if first:
                spread = day - dt.timedelta(days=1 + zlib.crc32(sid.encode()) % 28)
                incoming[sid] = {**content, "status": "active", "dateLastModified": f"{spread}{STAMP_TIME}"}
            elif old is None or old.get("status") != "active" or \
                    {k: v for k, v in old.items() if k not in ("status", "dateLastModified")} != content:
                incoming[sid] = {**content, "status": "active", "dateLastModified": stamp}
            else:
                incoming[sid] = old
        in_scope = self._bulk_scope(entity, rows)
        for sid, old in current.items():
            if sid not in incoming and old.get("status") == "active" and in_scope(old):
                incoming[sid] = {**old, "status": "tobedeleted", "dateLastModified": stamp}
            elif sid not in incoming:
                incoming[sid] = old
        self.records[entity] = incoming

    @staticmethod
    def _bulk_scope(entity: str, rows: list[dict[str, str]]):
        if entity != "attendance":
            return lambda row: True
        if not rows:
            return lambda row: False
        dates = [r["date"] for r in rows]
        low, high, schools = min(dates), max(dates), {r["schoolSourcedId"] for r in rows}
        return lambda row: low <= row.get("date", "") <= high and row.get("schoolSourcedId") in schools

    def select(self, entity: str, predicate, cache_key: str | None = None) -> list[dict[str, str]]:
        """Records matching ``predicate`` in sourcedId order; with ``cache_key`` (the filter text) the
        result is kept until the next change, so paging through a large entity sorts it once."""
        with self.lock:
            key = (entity, cache_key, self.version)
            if cache_key is not None and key in self._cache:
                return self._cache[key]
            rows = [row for _, row in sorted(self.records[entity].items()) if predicate(row)]
            if cache_key is not None:
                self._cache = {k: v for k, v in self._cache.items() if k[2] == self.version}
                self._cache[key] = rows
            return rows

    def touch(self, entity: str, sourced_id: str) -> None:
        """Re-save a record unchanged: only its dateLastModified moves past every other record's."""
        with self.lock:
            latest = max((r.get("dateLastModified",
                                "") for rows in self.records.values() for r in rows.values()),
                         default="")
            moment = _parse_ts(latest) + dt.timedelta(seconds=1) if latest else dt.datetime.now(dt.UTC)
            self.version += 1
            row = self.records[entity][sourced_id]
            self.records[entity][sourced_id] = {**row,
                                                "dateLastModified": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _parse_ts(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


parse_ts = _parse_ts
