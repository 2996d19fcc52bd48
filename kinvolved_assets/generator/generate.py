"""``generate``: simulate a district day by day from the start of its school year and write one
OneRoster+ delivery per weekday of the requested range (a bulk pull on the first day and on the first
delivery of every new month, nightly deltas otherwise); with ``truth`` also the expected per-student
attendance (``student_attendance.parquet``) and a matching customer config."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from kinvolved_assets.generator.calendar import SchoolCalendar, build_calendar, day_number, from_day_number
from kinvolved_assets.generator.config import config_yaml, infer_school_year, suggested_config
from kinvolved_assets.generator.delivery_writer import GeneratedDelivery, write_delivery
from kinvolved_assets.generator.render_sql import Style
from kinvolved_assets.generator.renderer import Renderer
from kinvolved_assets.generator.simulate import District
from kinvolved_assets.generator.truth import (
    PERIOD_STATS_SQL,
    TRUTH_SQL,
    TRUTH_YEARS_SQL,
    TruthBuilder,
    period_day_stats,
)
from kinvolved_assets.generator.write import DeliveryWriter
from kinvolved_assets.oneroster import spec
from kinvolved_assets.paths import check_slug
from kinvolved_assets.sql import string

TRUTH_EVERY_DELIVERY_SCALES = ("tiny", "small")
CHANGE_KEYS = ("students", "guardians", "stints", "new_students")


@dataclass
class GenerateResult:
    customer_id: str
    scale: str
    seed: int
    school_year: int
    deliveries: list[GeneratedDelivery] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)     # entity -> rows written over all deliveries
    final: dict[str, int] = field(default_factory=dict)      # simulated population at the end
    truth_path: Path | None = None
    truth_rows: int = 0
    elapsed_seconds: float = 0.0


def delivery_dates(start: dt.date, days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(days) if (start + dt.timedelta(days=i)).weekday() < 5]


def _check_arguments(customer_id: str, fmt: str, oneroster: str, days: int) -> None:
    check_slug(customer_id)
    if fmt not in ("zip", "loose"):
        raise ValueError("fmt must be 'zip' or 'loose'")
    if oneroster not in spec.CONTRACTS:
        raise ValueError(f"oneroster must be one of {', '.join(spec.CONTRACTS)}")
    if days < 1:
        raise ValueError("days must be >= 1")


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
    _check_arguments(customer_id, fmt, oneroster, days)
    year = school_year or infer_school_year(start)
    calendars = [build_calendar(year + i) for i in range(years)]
    cal = calendars[0]
    dates = sorted(dates) if dates is not None else delivery_dates(start, days)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = GenerateResult(customer_id, scale, seed, year)
    district = District(customer_id, scale, seed, cal, schools=schools,
                        period_only_schools=period_only_schools)
    if not dates:
        result.elapsed_seconds = time.perf_counter() - t0
        return result
    first = min(day_number(dates[0]), district.ys)
    last = day_number(dates[-1])
    truth_builder = TruthBuilder(district, first, last) if truth is not None else None
    writer = DeliveryWriter(quirks)
    try:
        truth_parts = _deliver(district, calendars, dates, first, last, out, fmt, quirks,
                               spec.contract(oneroster),
                               writer, truth_builder, scale in TRUTH_EVERY_DELIVERY_SCALES, result, progress)
        if truth is not None:
            truth = Path(truth)
            _write_truth(writer, truth, truth_parts, district, first, last, years, period_only_schools,
                         result)
            (truth / "customer_config.yaml").write_text(
                config_yaml(suggested_config(customer_id, scale, seed, year, schools, years)),
                encoding="utf-8")
    finally:
        writer.close()
    result.final = {"students": district.students.n, "guardians": district.guardians.n,
                    "teachers": district.n_teachers, "schools": district.n_schools,
                    "classes": district.n_classes,
                    "courses": district.n_courses, "student_enrollment_stints": district.stints.n,
                    "attendance_events": district.events.n}
    result.elapsed_seconds = time.perf_counter() - t0
    return result


def _deliver(district: District, calendars: list[SchoolCalendar], dates: list[dt.date], first: int, last: int,
             out: Path, fmt: str, quirks: bool, contract: spec.Contract, writer: DeliveryWriter,
             truth_builder: TruthBuilder | None, every: bool, result: GenerateResult,
             progress) -> list[pa.Table]:
    """Every day from ``first`` to ``last`` simulated (rollover days included), a delivery written on each
    delivery date; the truth tables computed along the way (every delivery, or the last one only)."""
    with_truth = truth_builder is not None
    instructional = np.logical_or.reduce([c.instructional_mask(first, last) for c in calendars])
    rollovers = {day_number(c.start) - 14: c for c in calendars[1:]}
    delivery_days = {day_number(d): i for i, d in enumerate(dates)}
    truth_parts: list[pa.Table] = []
    renderer = Renderer(district, Style(quirks))
    changes_since: dict[str, list[np.ndarray]] = {k: [] for k in CHANGE_KEYS}
    prev_month = None
    for day in range(first, last + 1):
        if day in rollovers:
            if truth_builder is not None:   # the year that ends: its rows as of its last school day
                ended = district.ye - 1
                if not truth_parts or truth_parts[-1]["as_of"][0].as_py() != ended:
                    truth_parts.append(truth_builder.compute(ended))
            ch = district.rollover(rollovers[day], day)
            truth_builder = TruthBuilder(district, first, last) if with_truth else None
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
        changed = {k: np.unique(np.concatenate(v)) if v else np.zeros(0, np.int64)
                   for k, v in changes_since.items()}
        changes_since = {k: [] for k in CHANGE_KEYS}
        delivery = write_delivery(writer, renderer, district, out, index, date, bulk, changed, fmt, quirks,
                              contract)
        result.deliveries.append(delivery)
        for k, v in delivery.rows.items():
            result.counts[k] = result.counts.get(k, 0) + v
        if truth_builder is not None and (every or index == len(dates) - 1):
            truth_parts.append(truth_builder.compute(day))
        if progress:
            progress(delivery)
    return truth_parts


def _write_truth(writer: DeliveryWriter, truth: Path, truth_parts: list[pa.Table], district: District,
                 first: int,
                 last: int, years: int, period_only_schools: int, result: GenerateResult) -> None:
    """student_attendance.parquet (and period_days.parquet with period-only schools) under ``truth``."""
    truth.mkdir(parents=True, exist_ok=True)
    table = (pa.concat_tables(truth_parts) if truth_parts
             else TruthBuilder(district, first, last).compute(last).slice(0, 0))
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
