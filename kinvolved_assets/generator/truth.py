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

from kinvolved_assets.generator.simulate import (
    ALL_TITLES,
    DISTRICT_CODES,
    SCHOOL_CODES,
    District,
)

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
        self.cum = np.concatenate([[0], np.cumsum(mask)]).astype(np.int64)   # cum[k] = instr days in [first, first+k)
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
