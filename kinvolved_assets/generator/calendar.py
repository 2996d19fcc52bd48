"""School-year calendar of the synthetic district: sessions, holidays and instructional days.

Dates are handled as numpy day numbers (days since 1970-01-01) inside the simulator; this module
also offers the plain ``datetime.date`` view used by the customer config and the sessions file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

EPOCH = dt.date(1970, 1, 1)
INSTRUCTIONAL_DAYS_PER_YEAR = 182


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    while d.weekday() != weekday:
        d += dt.timedelta(days=1)
    return d + dt.timedelta(weeks=n - 1)


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    d = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    while d.weekday() != weekday:
        d -= dt.timedelta(days=1)
    return d


def next_weekday(d: dt.date) -> dt.date:
    d += dt.timedelta(days=1)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


@dataclass(frozen=True)
class Session:
    sourced_id: str
    title: str
    type: str
    start: dt.date          # inclusive
    end: dt.date            # exclusive
    parent: str | None


@dataclass(frozen=True)
class SchoolCalendar:
    school_year: int                     # ending year, e.g. 2026 for 2025-26
    start: dt.date                       # first school day (inclusive)
    end: dt.date                         # day after the last school day (exclusive)
    holidays: tuple[dt.date, ...]        # district non-instructional weekdays inside [start, end)
    sessions: tuple[Session, ...] = field(default=())

    @property
    def year_session_id(self) -> str:
        return f"ses-{self.school_year}-sy"

    @property
    def term_ids(self) -> tuple[str, str]:
        return (f"ses-{self.school_year}-s1", f"ses-{self.school_year}-s2")

    def instructional_mask(self, first: int, last: int) -> np.ndarray:
        """Boolean per day number in [first, last] (inclusive)."""
        days = np.arange(first, last + 1)
        weekday = (days + 3) % 7          # 1970-01-01 was a Thursday (weekday 3)
        mask = (weekday < 5) & (days >= day_number(self.start)) & (days < day_number(self.end))
        if self.holidays:
            hol = np.array([day_number(h) for h in self.holidays])
            mask &= ~np.isin(days, hol)
        return mask


def build_calendar(school_year: int) -> SchoolCalendar:
    y0, y1 = school_year - 1, school_year
    start = dt.date(y0, 8, 24)
    while start.weekday() != 0:          # the Monday in Aug 24-30
        start += dt.timedelta(days=1)
    thanksgiving = _nth_weekday(y0, 11, 3, 4)
    holidays = {
        _nth_weekday(y0, 9, 0, 1),                       # Labor Day
        _nth_weekday(y0, 10, 0, 2),                      # Indigenous Peoples' Day
        dt.date(y0, 11, 11),                             # Veterans Day
        thanksgiving - dt.timedelta(days=1), thanksgiving, thanksgiving + dt.timedelta(days=1),
        _nth_weekday(y1, 1, 0, 3),                       # Martin Luther King Jr. Day
        _nth_weekday(y1, 2, 0, 3),                       # Presidents' Day
        _last_weekday(y1, 5, 0),                         # Memorial Day
    }
    d = dt.date(y0, 12, 22)                              # winter recess
    while d <= dt.date(y1, 1, 2):
        holidays.add(d)
        d += dt.timedelta(days=1)
    spring = _nth_weekday(y1, 4, 0, 1)                   # spring recess: the first full week of April
    holidays.update(spring + dt.timedelta(days=i) for i in range(5))
    holidays = {h for h in holidays if h.weekday() < 5}
    # run until 180 instructional days are reached
    count, d, last = 0, start, start
    while count < INSTRUCTIONAL_DAYS_PER_YEAR:
        if d.weekday() < 5 and d not in holidays:
            count += 1
            last = d
        d += dt.timedelta(days=1)
    end = last + dt.timedelta(days=1)
    holidays_in = tuple(sorted(h for h in holidays if start <= h < end))

    def first_school_day_on_or_after(x: dt.date) -> dt.date:
        while x.weekday() >= 5 or x in holidays:
            x += dt.timedelta(days=1)
        return x

    s2 = first_school_day_on_or_after(dt.date(y1, 1, 20))
    q2 = first_school_day_on_or_after(dt.date(y0, 11, 1))
    q4 = first_school_day_on_or_after(dt.date(y1, 4, 1))
    sy = f"ses-{school_year}-sy"
    s1_id, s2_id = f"ses-{school_year}-s1", f"ses-{school_year}-s2"
    label = f"{y0}-{str(y1)[2:]}"
    sessions = (
        Session(sy, f"School Year {label}", "schoolYear", start, end, None),
        Session(s1_id, f"Semester 1 {label}", "semester", start, s2, sy),
        Session(s2_id, f"Semester 2 {label}", "semester", s2, end, sy),
        Session(f"ses-{school_year}-q1", f"Quarter 1 {label}", "gradingPeriod", start, q2, s1_id),
        Session(f"ses-{school_year}-q2", f"Quarter 2 {label}", "gradingPeriod", q2, s2, s1_id),
        Session(f"ses-{school_year}-q3", f"Quarter 3 {label}", "gradingPeriod", s2, q4, s2_id),
        Session(f"ses-{school_year}-q4", f"Quarter 4 {label}", "gradingPeriod", q4, end, s2_id),
    )
    return SchoolCalendar(school_year, start, end, holidays_in, sessions)
