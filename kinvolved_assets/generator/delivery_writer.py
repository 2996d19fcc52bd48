"""One delivery of the simulated district: which entity files it carries (everything on a bulk day,
the day's changes on a delta day), written as a ZIP or a folder of loose CSVs (``write_delivery``)."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinvolved_assets.generator.calendar import day_number
from kinvolved_assets.generator.renderer import Renderer
from kinvolved_assets.generator.simulate import District
from kinvolved_assets.generator.write import FILE_ORDER, Content, DeliveryWriter, member_name
from kinvolved_assets.generator.write12 import roles_12, users_12
from kinvolved_assets.generator.zip_pack import pack_zip
from kinvolved_assets.oneroster import spec


@dataclass(frozen=True)
class GeneratedDelivery:
    delivery_date: dt.date
    mode: str                     # bulk | delta
    path: Path
    rows: dict[str, int]          # entity -> data rows written
    manifest: bool


@dataclass
class _Files:
    """The entity files of one delivery as they are rendered (bytes, or a spilled file in ``folder``)."""
    writer: DeliveryWriter
    renderer: Renderer
    folder: Path
    index: int
    date: dt.date
    bulk: bool
    quirks: bool
    contract: spec.Contract
    rows: dict[str, int] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    contents: dict[str, tuple[str, Content]] = field(default_factory=dict)

    def _spill_to(self, member: str):
        def spill() -> Path:
            self.folder.mkdir(parents=True, exist_ok=True)
            return self.folder / member
        return spill

    def put(self, entity: str, sql_table) -> None:
        member = member_name(entity, self.index, self.date, self.quirks)
        self.modes[entity] = "bulk" if self.bulk else "delta"
        sql, table = sql_table
        self.rows[entity], content = self.writer.render(sql, table, self._spill_to(member))
        self.contents[entity] = (member, content)

    def put_rows(self, entity: str, data: list[dict]) -> None:
        member = member_name(entity, self.index, self.date, self.quirks)
        self.modes[entity] = "bulk" if self.bulk else "delta"
        table = self.renderer.rows_table(spec.entity(entity), data)
        self.rows[entity], content = self.writer.render_rows(table, self._spill_to(member))
        self.contents[entity] = (member, content)

    def put_users(self, sql_table) -> None:
        if self.contract.version == "1.2":   # the same people: users.csv without role/orgs, plus roles.csv
            self.put("users", users_12(sql_table, self.quirks))
            self.put("roles", roles_12(sql_table))
        else:
            self.put("users", sql_table)


def _put_entities(files: _Files, r: Renderer, d: District, day: int, changed: dict[str, np.ndarray]) -> None:
    ev = d.events
    if files.bulk:
        files.put_rows("orgs", r.orgs_rows())
        files.put_rows("academic_sessions", r.sessions_rows())
        files.put("courses", r.courses())
        files.put("classes", r.classes())
        files.put_users(r.users(None, None, True))
        # the enrollments of this school year (a closed year's are not sent again)
        files.put("enrollments",
                  r.enrollments(np.nonzero((d.stints["end"] < 0) | (d.stints["end"] > d.ys))[0],
                                               True))
        files.put("demographics", r.demographics(None))
        files.put_rows("absence_codes", r.absence_code_rows())
        # this school year's events (a new year's bulk does not send last year's again)
        att = np.nonzero(~ev["deleted"] & (ev["date"] <= day) & (ev["date"] >= d.ys))[0]
    else:
        if len(changed["students"]) or len(changed["guardians"]):
            files.put_users(r.users(changed["students"], changed["guardians"], False))
        if len(changed["stints"]):
            files.put("enrollments", r.enrollments(changed["stints"], False))
        if len(changed["new_students"]):
            files.put("demographics", r.demographics(changed["new_students"]))
        # events created or changed today (corrections only reach back a few weeks)
        lo = d.day_event_start.get(min((k for k in d.day_event_start if k >= day - 30), default=day), ev.n)
        att = lo + np.nonzero(ev.cols["mod"][lo: ev.n] == day)[0]
    files.put("attendance", r.attendance(np.asarray(att, np.int64)))


def write_delivery(writer: DeliveryWriter, r: Renderer, d: District, out: Path, index: int, date: dt.date,
                   bulk: bool, changed: dict[str, np.ndarray], fmt: str, quirks: bool,
                   contract: spec.Contract = spec.ONEROSTER_11) -> GeneratedDelivery:
    name = f"{d.customer_id}_{date:%Y%m%d}"
    loose = fmt == "loose"
    folder = out / name if loose else out / f".{name}.tmp"
    for stale in (folder, out / name):
        if stale.is_dir():
            shutil.rmtree(stale)
    if loose:
        folder.mkdir(parents=True)
    files = _Files(writer, r, folder, index, date, bulk, quirks, contract)
    r.bulk = bulk
    _put_entities(files, r, d, day_number(date), changed)
    manifest = not (quirks and not bulk and index % 3 == 2)
    members: list[tuple[str, Content]] = []
    if manifest:
        members.append((spec.MANIFEST_FILE, writer.manifest(files.modes, contract)))
    members += [files.contents[e] for e in FILE_ORDER if e in files.contents]
    if loose:
        for member, content in members:
            if isinstance(content, bytes):
                (folder / member).write_bytes(content)
        path = folder
    else:
        path = out / f"{name}.zip"
        pack_zip(members, path, date)
        if folder.exists():
            shutil.rmtree(folder)
    return GeneratedDelivery(date, "bulk" if bulk else "delta", path, files.rows, manifest)
