"""Deterministic synthetic district generator (``kinvolved generate``).

``generate`` simulates a district day by day from the start of its school year and writes one
OneRoster+ drop per weekday of the requested range: a bulk pull on the first day and on the first
delivery of every new month, nightly deltas otherwise. With ``truth`` it also writes the expected
per-student attendance (``student_attendance.parquet``) and a matching customer config.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from kinvolved_assets.generator.calendar import build_calendar, day_number, from_day_number
from kinvolved_assets.generator.simulate import SCALES, District
from kinvolved_assets.generator.truth import (
    PERIOD_STATS_SQL,
    TRUTH_SQL,
    TRUTH_YEARS_SQL,
    TruthBuilder,
    period_day_stats,
)
from kinvolved_assets.generator.write import FILE_ORDER, DropWriter, Renderer, Style, member_name, pack_zip
from kinvolved_assets.generator.write12 import roles_12, users_12
from kinvolved_assets.oneroster import spec
from kinvolved_assets.paths import check_slug
from kinvolved_assets.sql import string

TRUTH_EVERY_DELIVERY_SCALES = ("tiny", "small")


@dataclass(frozen=True)
class Drop:
    delivery_date: dt.date
    mode: str                     # bulk | delta
    path: Path
    rows: dict[str, int]          # entity -> data rows written
    manifest: bool


@dataclass
class GenerateResult:
    customer_id: str
    scale: str
    seed: int
    school_year: int
    drops: list[Drop] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)     # entity -> total rows written over all drops
    final: dict[str, int] = field(default_factory=dict)      # simulated population at the end
    truth_path: Path | None = None
    truth_rows: int = 0
    elapsed_seconds: float = 0.0


def infer_school_year(d: dt.date) -> int:
    return d.year + 1 if d.month >= 7 else d.year


def delivery_dates(start: dt.date, days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(days) if (start + dt.timedelta(days=i)).weekday() < 5]


def _school_ids(scale: str, schools: int | None = None) -> list[str]:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return [f"org-sch-{i + 1:04d}" for i in range(schools or SCALES[scale][1])]


def suggested_config(customer_id: str, scale: str, seed: int, school_year: int | None = None,
                     schools: int | None = None, years: int = 1) -> dict:
    """A customer config (valid for ``CustomerConfig``) matching what ``generate`` produces; with
    ``years`` > 1 the current year is the last one and history_from_school_year the first."""
    check_slug(customer_id)
    first = school_year or infer_school_year(dt.date.today())
    year = first + years - 1
    holidays = [d.isoformat() for y in range(first, year + 1) for d in build_calendar(y).holidays]
    name = customer_id.replace("_", " ").title()
    del seed  # the schools and the calendar do not depend on the seed
    config = {
        "customer_id": customer_id,
        "name": f"{name} Unified School District",
        "sis": "PowerSchool",
        "flow": "oneroster_csv",
        "timezone": "America/New_York",
        "products": ["attendance"],
        "school_year": year,
        "licensed_schools": _school_ids(scale, schools),
        "non_instructional_days": {"district": holidays},
    }
    if years > 1:
        config["history_from_school_year"] = first
    return config


def config_yaml(config: dict, header: str = "") -> str:
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
    return header + body


def generate(customer_id: str, scale: str, seed: int, start: dt.date, days: int, out: Path,
             fmt: str = "zip", truth: Path | None = None, quirks: bool = False,
             school_year: int | None = None, progress=None, oneroster: str = "1.1",
             schools: int | None = None, period_only_schools: int = 0, years: int = 1,
             dates: list[dt.date] | None = None) -> GenerateResult:
    """``oneroster``: the OneRoster version of the export (1.1 or 1.2; the same district either way).
    ``schools``: another number of schools than the scale's. ``period_only_schools``: the first that many
    schools send period events only; with ``truth`` their per-day period figures go to
    ``period_days.parquet`` (``truth.period_day_stats``; ``truth.day_fraction`` applies a rule).
    ``years``: school years simulated from ``school_year`` on; two weeks before each next year starts
    the district rolls over (``District.rollover``: promotions, leavers, newcomers, new enrollments) and
    the truth holds each year's rows (column school_year). ``dates``: the delivery dates instead of
    the weekdays of [start, start + days)."""
    t0 = time.perf_counter()
    check_slug(customer_id)
    if fmt not in ("zip", "loose"):
        raise ValueError("fmt must be 'zip' or 'loose'")
    if oneroster not in spec.CONTRACTS:
        raise ValueError(f"oneroster must be one of {', '.join(spec.CONTRACTS)}")
    if days < 1:
        raise ValueError("days must be >= 1")
    year = school_year or infer_school_year(start)
    calendars = [build_calendar(year + i) for i in range(years)]
    cal = calendars[0]
    dates = sorted(dates) if dates is not None else delivery_dates(start, days)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = GenerateResult(customer_id, scale, seed, year)
    district = District(customer_id, scale, seed, cal, schools=schools, period_only_schools=period_only_schools)
    if not dates:
        result.elapsed_seconds = time.perf_counter() - t0
        return result
    first = min(day_number(dates[0]), district.ys)
    last = day_number(dates[-1])
    instructional = np.logical_or.reduce([c.instructional_mask(first, last) for c in calendars])
    rollovers = {day_number(c.start) - 14: c for c in calendars[1:]}
    delivery_days = {day_number(d): i for i, d in enumerate(dates)}
    truth_builder = TruthBuilder(district, first, last) if truth is not None else None
    truth_parts: list[pa.Table] = []
    every = scale in TRUTH_EVERY_DELIVERY_SCALES
    writer = DropWriter(quirks)
    renderer = Renderer(district, Style(quirks))
    keys = ("students", "guardians", "stints", "new_students")
    changes_since: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    prev_month = None
    try:
        for day in range(first, last + 1):
            if day in rollovers:
                if truth_builder is not None:   # the year that ends: its rows as of its last school day
                    ended = district.ye - 1
                    if not truth_parts or truth_parts[-1]["as_of"][0].as_py() != ended:
                        truth_parts.append(truth_builder.compute(ended))
                ch = district.rollover(rollovers[day], day)
                truth_builder = TruthBuilder(district, first, last) if truth is not None else None
            else:
                ch = district.simulate_day(day, bool(instructional[day - first]))
            changes_since["students"].append(ch.students)
            changes_since["guardians"].append(ch.guardians)
            changes_since["stints"].append(ch.stints)
            changes_since["new_students"].append(ch.new_students)
            if day not in delivery_days:
                continue
            index = delivery_days[day]
            date = from_day_number(day)
            bulk = index == 0 or (date.year, date.month) != prev_month
            prev_month = (date.year, date.month)
            changed = {k: np.unique(np.concatenate(v)) if v else np.zeros(0, np.int64) for k, v in changes_since.items()}
            changes_since = {k: [] for k in keys}
            drop = _write_delivery(writer, renderer, district, out, index, date, bulk, changed, fmt, quirks,
                                   spec.contract(oneroster))
            result.drops.append(drop)
            for k, v in drop.rows.items():
                result.counts[k] = result.counts.get(k, 0) + v
            if truth_builder is not None and (every or index == len(dates) - 1):
                truth_parts.append(truth_builder.compute(day))
            if progress:
                progress(drop)
        if truth is not None:
            truth = Path(truth)
            truth.mkdir(parents=True, exist_ok=True)
            table = pa.concat_tables(truth_parts) if truth_parts else TruthBuilder(district, first, last).compute(last).slice(0, 0)
            target = truth / "student_attendance.parquet"
            writer.con.register("t", table)
            writer.con.execute(f"COPY ({TRUTH_SQL if years == 1 else TRUTH_YEARS_SQL}) TO {string(str(target))} "
                               "(FORMAT parquet)")
            writer.con.unregister("t")
            result.truth_path = target
            result.truth_rows = table.num_rows
            if period_only_schools:
                writer.con.register("t", period_day_stats(district, last))
                writer.con.execute(f"COPY ({PERIOD_STATS_SQL}) TO {string(str(truth / 'period_days.parquet'))} "
                                   "(FORMAT parquet)")
                writer.con.unregister("t")
            (truth / "customer_config.yaml").write_text(
                config_yaml(suggested_config(customer_id, scale, seed, year, schools, years)), encoding="utf-8")
    finally:
        writer.close()
    result.final = {"students": district.students.n, "guardians": district.guardians.n,
                    "teachers": district.n_teachers, "schools": district.n_schools, "classes": district.n_classes,
                    "courses": district.n_courses, "student_enrollment_stints": district.stints.n,
                    "attendance_events": district.events.n}
    result.elapsed_seconds = time.perf_counter() - t0
    return result


def _write_delivery(writer: DropWriter, r: Renderer, d: District, out: Path, index: int, date: dt.date,
                    bulk: bool, changed: dict[str, np.ndarray], fmt: str, quirks: bool,
                    contract: spec.Contract = spec.ONEROSTER_11) -> Drop:
    name = f"{d.customer_id}_{date:%Y%m%d}"
    loose = fmt == "loose"
    folder = out / name if loose else out / f".{name}.tmp"
    for stale in (folder, out / name):
        if stale.is_dir():
            shutil.rmtree(stale)
    if loose:
        folder.mkdir(parents=True)
    day = day_number(date)
    rows: dict[str, int] = {}
    modes: dict[str, str] = {}
    contents: dict[str, tuple[str, bytes | Path]] = {}

    def spill_to(member: str):
        def spill() -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            return folder / member
        return spill

    def put(entity: str, sql_table) -> None:
        member = member_name(entity, index, date, quirks)
        modes[entity] = "bulk" if bulk else "delta"
        sql, table = sql_table
        rows[entity], content = writer.render(sql, table, spill_to(member))
        contents[entity] = (member, content)

    def put_rows(entity: str, data: list[dict]) -> None:
        member = member_name(entity, index, date, quirks)
        modes[entity] = "bulk" if bulk else "delta"
        rows[entity], content = writer.render_rows(r.rows_table(spec.entity(entity), data), spill_to(member))
        contents[entity] = (member, content)

    def put_users(sql_table) -> None:
        if contract.version == "1.2":   # the same people: users.csv without role/orgs, plus roles.csv
            put("users", users_12(sql_table, quirks))
            put("roles", roles_12(sql_table))
        else:
            put("users", sql_table)

    ev = d.events
    r.bulk = bulk
    if bulk:
        put_rows("orgs", r.orgs_rows())
        put_rows("academic_sessions", r.sessions_rows())
        put("courses", r.courses())
        put("classes", r.classes())
        put_users(r.users(None, None, True))
        # the enrollments of this school year (a closed year's are not sent again)
        put("enrollments", r.enrollments(np.nonzero((d.stints["end"] < 0) | (d.stints["end"] > d.ys))[0], True))
        put("demographics", r.demographics(None))
        put_rows("absence_codes", r.absence_code_rows())
        # this school year's events (a new year's bulk does not send last year's again)
        att = np.nonzero(~ev["deleted"] & (ev["date"] <= day) & (ev["date"] >= d.ys))[0]
    else:
        if len(changed["students"]) or len(changed["guardians"]):
            put_users(r.users(changed["students"], changed["guardians"], False))
        if len(changed["stints"]):
            put("enrollments", r.enrollments(changed["stints"], False))
        if len(changed["new_students"]):
            put("demographics", r.demographics(changed["new_students"]))
        # events created or changed today (corrections only reach back a few weeks)
        lo = d.day_event_start.get(min((k for k in d.day_event_start if k >= day - 30), default=day), ev.n)
        att = lo + np.nonzero(ev.cols["mod"][lo: ev.n] == day)[0]
    put("attendance", r.attendance(np.asarray(att, np.int64)))
    manifest = not (quirks and not bulk and index % 3 == 2)
    members: list[tuple[str, bytes | Path]] = []
    if manifest:
        members.append((spec.MANIFEST_FILE, writer.manifest(modes, contract)))
    members += [contents[e] for e in FILE_ORDER if e in contents]
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
    return Drop(date, "bulk" if bulk else "delta", path, rows, manifest)


__all__ = ["Drop", "GenerateResult", "SCALES", "generate", "suggested_config", "config_yaml", "delivery_dates"]
