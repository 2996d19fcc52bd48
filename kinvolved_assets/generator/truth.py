"""Ground-truth attendance per (student, school) computed from the simulator's own state.

Rules (the product's attendance rules, which the marts reproduce):
- instructional day: weekday inside [schoolYear start, end), not a district holiday, <= as_of_date;
- enrolled on a day: an active student enrollment at that school with beginDate <= day < endDate
  (blank end = open);
- days_absent: sum over the latest version of each daily (class-less) event on an enrolled
  instructional day of ``dayFraction`` if the code is an absence (per-school code first), else 0;
- attendance_rate = (days_enrolled - days_absent) / days_enrolled;
- is_chronically_absent = days_absent / days_enrolled >= 0.10 and days_enrolled >= 10.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from kinvolved_assets.generator.district_tables import ALL_TITLES, DISTRICT_CODES, N_SUBJECTS, SCHOOL_CODES
from kinvolved_assets.generator.simulate import District

CHRONIC_THRESHOLD = 0.10
MIN_ENROLLED_DAYS = 10


def _fraction_table() -> np.ndarray:
    """fraction[code, has_school_codes] per event code index."""
    def frac(entry):
        _, absent, _, _, _, f = entry
        if not absent:
            return 0.0
        return 1.0 if f is None else float(f)

    district = {c[0]: frac(c) for c in DISTRICT_CODES}
    school = {c[0]: frac(c) for c in SCHOOL_CODES}
    table = np.zeros((len(ALL_TITLES), 2), np.float64)
    for i, title in enumerate(ALL_TITLES):
        table[i, 0] = district.get(title, 0.0)
        table[i, 1] = school.get(title, district.get(title, 0.0))
    return table


FRACTION = _fraction_table()


class TruthBuilder:
    def __init__(self, district: District, first_day: int, last_day: int):
        self.d = district
        self.first = first_day
        mask = district.cal.instructional_mask(first_day, last_day)
        self.mask = mask
        self.cum = np.concatenate([[0],
                                   np.cumsum(mask)]).astype(np.int64)   # cum[k] = instr days in [first,
                                                                        # first+k)
        self.last = last_day

    def _count(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Instructional days in [lo, hi) (day numbers)."""
        lo = np.clip(lo - self.first, 0, len(self.cum) - 1)
        hi = np.clip(hi - self.first, 0, len(self.cum) - 1)
        return np.maximum(self.cum[hi] - self.cum[lo], 0)

    def compute(self, as_of: int) -> pa.Table:
        d = self.d
        sp = d.stints
        n = sp.n
        begin = sp["begin"].astype(np.int64)
        end = sp["end"].astype(np.int64)
        end = np.where(end < 0, np.iinfo(np.int64).max // 4, end)
        lo = np.maximum(begin, d.ys)
        hi = np.minimum(np.minimum(end, d.ye), as_of + 1)
        enrolled = np.where(hi > lo, self._count(lo, hi), 0)
        ev = d.events
        keep = (~ev["deleted"]) & (ev["cls"] < 0) & (ev["date"] <= as_of)
        idx = np.nonzero(keep)[0]
        stint = ev.cols["stint"][idx]
        date = ev.cols["date"][idx].astype(np.int64)
        ok = (date >= begin[stint]) & (date < end[stint]) & (date >= d.ys) & (date < d.ye)
        rel = date - self.first
        inside = (rel >= 0) & (rel < len(self.mask))
        ok &= inside
        ok[inside] &= self.mask[rel[inside]]
        stint, idx = stint[ok], idx[ok]
        school = sp.cols["school"][stint]
        frac = FRACTION[ev.cols["code"][idx].astype(np.int64), d.has_school_codes[school].astype(np.int64)]
        absent = np.bincount(stint, weights=frac, minlength=n)
        # combine stints of the same (student, school)
        key = sp["student"].astype(np.int64) * d.n_schools + sp["school"]
        uniq, inv = np.unique(key, return_inverse=True)
        days_enrolled = np.bincount(inv, weights=enrolled, minlength=len(uniq)).astype(np.int64)
        days_absent = np.bincount(inv, weights=absent, minlength=len(uniq))
        sel = days_enrolled > 0
        uniq, days_enrolled, days_absent = uniq[sel], days_enrolled[sel], days_absent[sel]
        rate = (days_enrolled - days_absent) / days_enrolled
        chronic = (days_absent / days_enrolled >= CHRONIC_THRESHOLD) & (days_enrolled >= MIN_ENROLLED_DAYS)
        student = uniq // d.n_schools
        school = uniq % d.n_schools
        return pa.table({
            "as_of": np.full(len(uniq), as_of, np.int32), "student": student, "school": school,
            "days_enrolled": days_enrolled, "days_absent": days_absent, "attendance_rate": rate,
            "is_chronically_absent": chronic,
            "school_year": np.full(len(uniq), d.cal.school_year, np.int32),
        })


TRUTH_SQL = """
SELECT DATE '1970-01-01' + as_of AS as_of_date,
       'usr-stu-' || lpad(CAST(student + 1 AS VARCHAR), 7, '0') AS student_sourced_id,
       'org-sch-' || lpad(CAST(school + 1 AS VARCHAR), 4, '0') AS school_sourced_id,
       CAST(days_enrolled AS BIGINT) AS days_enrolled,
       CAST(days_absent AS DOUBLE) AS days_absent,
       CAST(attendance_rate AS DOUBLE) AS attendance_rate,
       is_chronically_absent
FROM t ORDER BY as_of_date, student_sourced_id, school_sourced_id
"""
# a district over several school years: the same with each row's school year
TRUTH_YEARS_SQL = TRUTH_SQL.replace("is_chronically_absent\nFROM t",
                                    "is_chronically_absent,\n       CAST(school_year AS INTEGER) AS "
                                    "school_year\nFROM t")
assert TRUTH_YEARS_SQL != TRUTH_SQL


# ---- period-only schools (attendance.daily_from_periods) ---------------------------------------
def period_day_stats(d: District, as_of: int) -> pa.Table:
    """Per student x period-only school x day with period or daily events, from the simulator's state:
    the scheduled periods (a stint's classes, one period each), the distinct own classes with an
    absence event, the minutes of those events (blank = 0), the daily event's fraction (NaN: none)
    and the events for classes the student is not enrolled in (ignored by the rules)."""
    ev, sp = d.events, d.stints
    keep = (~ev["deleted"]) & (ev["date"] <= as_of)
    idx = np.nonzero(keep)[0]
    stint = ev.cols["stint"][idx].astype(np.int64)
    school = sp.cols["school"][stint]
    po = d.period_only[school]
    idx, stint, school = idx[po], stint[po], school[po]
    date = ev.cols["date"][idx].astype(np.int64)
    cls = ev.cols["cls"][idx].astype(np.int64)
    frac = FRACTION[ev.cols["code"][idx].astype(np.int64), d.has_school_codes[school].astype(np.int64)]
    minutes = np.maximum(ev.cols["minutes"][idx].astype(np.int64), 0)
    daily = cls < 0
    own = np.zeros(len(idx), bool)
    if (~daily).any():
        own[~daily] = (d.stint_classes(stint[~daily]) == cls[~daily][:, None]).any(axis=1)
    student = sp.cols["student"][stint].astype(np.int64)
    key = (student * d.n_schools + school) * 100_000 + date
    uniq, inv = np.unique(key, return_inverse=True)
    n = len(uniq)
    absent_own = own & (frac > 0)
    absent_periods = np.bincount(inv, weights=absent_own, minlength=n).astype(np.int64)
    absent_minutes = np.bincount(inv, weights=np.where(absent_own, minutes, 0), minlength=n)
    ignored = np.bincount(inv, weights=(~daily) & ~own, minlength=n).astype(np.int64)
    has_periods = np.bincount(inv, weights=own, minlength=n) > 0
    daily_fraction = np.full(n, np.nan)
    daily_fraction[inv[daily]] = frac[daily]
    sk = uniq // 100_000
    return pa.table({
        "student": sk // d.n_schools, "school": sk % d.n_schools, "date": (uniq % 100_000).astype(np.int32),
        "scheduled_periods": np.full(n, N_SUBJECTS, np.int64), "has_periods": has_periods,
        "absent_periods": absent_periods, "absent_minutes": absent_minutes, "daily_fraction": daily_fraction,
        "ignored_events": ignored,
    })


PERIOD_STATS_SQL = """
SELECT 'usr-stu-' || lpad(CAST(student + 1 AS VARCHAR), 7, '0') AS student_sourced_id,
       'org-sch-' || lpad(CAST(school + 1 AS VARCHAR), 4, '0') AS school_sourced_id,
       DATE '1970-01-01' + date AS "date",
       scheduled_periods, has_periods, absent_periods, absent_minutes,
       CASE WHEN isnan(daily_fraction) THEN NULL ELSE daily_fraction END AS daily_fraction, ignored_events
FROM t ORDER BY all
"""


def derived_fraction(rule: dict, scheduled: int, absent: int, minutes: float) -> float:
    """The day a period rule makes of a student's periods (docs/attendance-rules.md), in plain Python."""
    mode = rule.get("mode", "none")
    if mode == "none" or absent == 0:
        return 0.0
    full = {"all_periods": absent >= scheduled,
            "share": absent >= rule.get("share", 2) * scheduled - 1e-9,
            "minutes": minutes >= rule.get("minutes", float("inf")) - 1e-9}[mode]
    if full:
        return 1.0
    half = rule.get("half_day_share")
    return 0.5 if half is not None and absent >= half * scheduled - 1e-9 else 0.0


def day_fraction(rule: dict, row: dict) -> float:
    """The daily fraction of one student-day of ``period_day_stats``: the daily event's or the derived
    one, whichever the rule's precedence lets win."""
    daily = row["daily_fraction"]
    if rule.get("mode", "none") == "none" or not row["has_periods"]:
        return daily or 0.0
    if daily is not None and rule.get("precedence", "daily_event") == "daily_event":
        return daily
    return derived_fraction(rule, row["scheduled_periods"], row["absent_periods"], row["absent_minutes"])
