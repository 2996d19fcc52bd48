"""Pulled pages -> an ordinary Kinvolved OneRoster+ delivery (the same CSV files as a delivery).

Each entity's pages become ``<fileStem>.csv`` with the contract's columns in order. A full pull is a
*bulk* file: records marked ``tobedeleted`` are left out and ``status``/``dateLastModified`` are blank
(as in a bulk delivery). A delta keeps both. A record seen twice while paging is written once (its last
version). ``manifest.csv`` declares every file's mode and says the delivery came from the REST flow.
Memory: one page plus one sourcedId per record of the entity.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from pathlib import Path

from kinvolved_assets.oneroster import spec
from kinvolved_assets.rest import binding
from kinvolved_assets.rest.client import PullError
from kinvolved_assets.rest.district import parse_ts

DELETED = ("tobedeleted", "inactive")


def _latest(stamp: str, current: str | None) -> str | None:
    try:
        value = parse_ts(stamp).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return current
    return value if current is None or value > current else current


def write_entity_csv(entity: str, pages: list, version: str, mode: str, target: Path) -> tuple[int,
                                                                                               str | None]:
    """Write one entity's CSV from its pages (PageSinks); returns (rows written, latest dateLastModified)."""
    ent = spec.ONEROSTER_11.entity(entity)
    key = binding.collection_key(entity)
    last: dict[str, tuple[int, int]] = {}
    for p, page in enumerate(pages):
        for r, record in enumerate(page.records(key)):
            sid = record.get("sourcedId") if isinstance(record, dict) else None
            if not isinstance(sid, str) or not sid:
                raise PullError(f"{ent.file_stem} page {p + 1} record {r + 1}: no sourcedId")
            last[sid] = (p, r)
    latest: str | None = None
    rows = 0
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ent.column_names)
        for p, page in enumerate(pages):
            for r, record in enumerate(page.records(key)):
                if last.get(record["sourcedId"]) != (p, r):
                    continue
                row = binding.to_row(entity, record, version, f"{ent.file_stem} page {p + 1} record {r + 1}")
                if row["dateLastModified"]:
                    latest = _latest(row["dateLastModified"], latest)
                if mode == "bulk":
                    if row["status"].lower() in DELETED:
                        continue
                    row["status"] = row["dateLastModified"] = ""
                writer.writerow([row[c] for c in ent.column_names])
                rows += 1
        handle.flush()
        os.fsync(handle.fileno())
    return rows, latest


def write_manifest(folder: Path, modes: dict[str, str], pull_id: str, version: str) -> None:
    lines = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1",
             "source.systemName,Kinvolved REST pull", "source.flow,oneroster_rest",
             f"source.restVersion,{version}", f"source.pullId,{pull_id}"]
    for e in spec.ENTITIES:
        lines.append(f"file.{e.file_stem},{modes.get(e.name, 'absent')}")
    (folder / spec.MANIFEST_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
