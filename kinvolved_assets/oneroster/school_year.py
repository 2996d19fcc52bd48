"""The customer's school year, resolved by dates rather than by the ``schoolYear`` label.

SIS disagree on the label: the spec says the ending year (2019 for 2018-09-05..2019-06-22), some
exports write the starting year (2018). The configured ``school_year`` Y stands for the window
Y-1-07-01 .. Y-06-30. The sessions of type ``schoolYear`` that lie mostly (more than half of their
days) inside that window are the school year, whatever their label; a label other than Y is a warning
naming the session. A delivery without any such ``schoolYear`` session (only terms or semesters) uses the
span of the ``term``/``semester``/``gradingPeriod`` sessions that lie mostly inside the window. When
nothing matches, the school year is unresolved: an error, and the marts are not built with it
(dbt: ``int_school_years__resolved``, ``tests/assert_school_year_resolved.sql`` apply the same rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

TERM_TYPES = ("term", "semester", "gradingPeriod")


@dataclass(frozen=True)
class Session:
    sourced_id: str
    type: str
    start: dt.date | None
    end: dt.date | None
    label: int | None
    title: str = ""


@dataclass
class SchoolYear:
    configured: int
    start: dt.date | None = None
    end: dt.date | None = None
    sessions: list[Session] = field(default_factory=list)   # the sessions that define it
    from_terms: bool = False

    @property
    def resolved(self) -> bool:
        return self.start is not None

    @property
    def relabelled(self) -> list[Session]:
        return [s for s in self.sessions if s.label is not None and s.label != self.configured]


def window(school_year: int) -> tuple[dt.date, dt.date]:
    return dt.date(school_year - 1, 7, 1), dt.date(school_year, 6, 30)


def _mostly_inside(s: Session, lo: dt.date, hi: dt.date) -> bool:
    if s.start is None or s.end is None or s.end < s.start:
        return False
    inside = (min(s.end, hi) - max(s.start, lo)).days + 1
    return inside * 2 > (s.end - s.start).days + 1


def resolve(sessions: list[Session], school_year: int) -> SchoolYear:
    lo, hi = window(school_year)
    out = SchoolYear(school_year)
    years = [s for s in sessions if s.type == "schoolYear" and _mostly_inside(s, lo, hi)]
    if not years:
        years = [s for s in sessions if s.type in TERM_TYPES and _mostly_inside(s, lo, hi)]
        out.from_terms = bool(years)
    if years:
        out.sessions = sorted(years, key=lambda s: (s.start, s.sourced_id))
        out.start = min(s.start for s in years)
        out.end = max(s.end for s in years)
    return out


def describe(sy: SchoolYear, sessions: list[Session]) -> tuple[str, str] | None:
    """(severity, message) about the resolution, or None when the labels agree with the dates."""
    lo, hi = window(sy.configured)
    if not sy.resolved:
        near = sorted((s for s in sessions if s.type == "schoolYear" and s.start), key=lambda s: s.start)
        hint = ""
        if near:
            s = near[-1]
            suggested = s.end.year if s.end and s.end.month <= 8 else (s.end.year + 1 if s.end else None)
            hint = (f" The latest schoolYear session is {s.sourced_id} ({s.start} .. {s.end}, labelled "
                    f"{s.label}); "
                    f"set school_year: {suggested} in the customer config if that is the year to load.")
        return ("error", f"no academic session lies mostly inside the configured school year {sy.configured} "
                         f"({lo} .. {hi}); attendance cannot be counted.{hint}")
    if sy.from_terms:
        return ("warning", f"no schoolYear session for {sy.configured}; the school year is taken from "
                           f"{len(sy.sessions)} term/semester sessions ({sy.start} .. {sy.end}).")
    if sy.relabelled:
        s = sy.relabelled[0]
        return ("warning", f"schoolYear session {s.sourced_id} ({s.start} .. {s.end}) is labelled {s.label}, "
                           f"not {sy.configured}; its dates lie in the configured school year "
                           f"{sy.configured}, "
                           f"so it is used (labels differ between SIS: the spec uses the ending year).")
    return None


def sessions_from_parquet(con, parquet: str) -> list[Session]:
    rows = con.execute("SELECT sourcedId, type, startDate, endDate, schoolYear, coalesce(title, '') "
                       "FROM read_parquet(?) WHERE coalesce(status, 'active') <> 'tobedeleted'",
                       [parquet]).fetchall()
    return [Session(str(a), str(b), c, d, int(e) if e is not None else None, str(f)) for a, b, c, d, e,
            f in rows]
