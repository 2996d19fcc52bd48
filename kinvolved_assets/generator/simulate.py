"""Vectorised simulation of a synthetic district: roster, enrollments and daily attendance.

All state lives in numpy arrays (people and events are integer indexes); strings are only
produced when a delivery is written (see ``renderer.py``). Randomness comes from one
``numpy.random.Generator`` consumed in a fixed order, so a (customer, scale, seed, dates) tuple
always yields the same district.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

from kinvolved_assets.generator.calendar import SchoolCalendar, day_number, from_day_number, next_weekday
from kinvolved_assets.generator.daily_attendance import DailyAttendance
from kinvolved_assets.generator.district_tables import (
    CLASS_SIZE,
    ELEMENTARY,
    HIGH,
    MIDDLE,
    N_SUBJECTS,
    SCALES,
    SCHOOL_CODE_EVERY,
    SCHOOL_GRADES,
)


def stable_seed(customer_id: str, seed: int) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, zlib.crc32(customer_id.encode("utf-8"))]


class Grow:
    """A growable set of parallel 1-D numpy arrays."""

    def __init__(self, dtypes: dict[str, str], capacity: int = 1024):
        self.n = 0
        self.cols = {k: np.zeros(max(capacity, 16), dtype=v) for k, v in dtypes.items()}

    def __getitem__(self, key: str) -> np.ndarray:
        return self.cols[key][: self.n]

    def append(self, **values) -> np.ndarray:
        m = len(next(iter(values.values())))
        need = self.n + m
        cap = len(next(iter(self.cols.values())))
        if need > cap:
            new_cap = max(need, int(cap * 1.6))
            for k, arr in self.cols.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.cols[k] = grown
        for k, arr in self.cols.items():
            arr[self.n: need] = values.get(k, 0)
        idx = np.arange(self.n, need)
        self.n = need
        return idx


@dataclass
class DayChanges:
    """Indexes of records changed on one simulated day (for the delta of that day)."""
    students: np.ndarray
    guardians: np.ndarray
    stints: np.ndarray
    new_students: np.ndarray


class District(DailyAttendance):
    """The simulated district state."""

    def __init__(self, customer_id: str, scale: str, seed: int, calendar: SchoolCalendar,
                 schools: int | None = None, period_only_schools: int = 0):
        """``schools``: another number of schools than the scale's; ``period_only_schools``: the first
        that many schools take attendance per class period only (no daily codes, docs/attendance-rules.md)."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
        self.customer_id = customer_id
        self.scale = scale
        self.seed = seed
        self.cal = calendar
        self.rng = np.random.default_rng(stable_seed(customer_id, seed))
        n_students, n_schools = SCALES[scale]
        n_schools = schools or n_schools
        if not 0 <= period_only_schools <= n_schools:
            raise ValueError(f"period_only_schools must be 0..{n_schools}")
        self.period_only = np.arange(n_schools) < period_only_schools
        self.ys = day_number(calendar.start)
        self.ye = day_number(calendar.end)
        self._build_schools(n_schools)
        self._build_students(n_students)
        self._build_classes()
        self._build_stints()
        self.events = Grow({"stint": "i4", "date": "i4", "code": "i1", "cls": "i4", "period": "i1",
                            "minutes": "i2", "by_id": "?", "comment": "i1", "mod": "i4",
                            "deleted": "?"}, capacity=max(1024, n_students * 30))
        self.day_event_start: dict[int, int] = {}

    # ---- construction ----------------------------------------------------------------------------
    def _build_schools(self, n: int) -> None:
        rng = self.rng
        if n == 1:
            kinds = np.array([MIDDLE])
        else:
            kinds = np.array([(ELEMENTARY, MIDDLE, ELEMENTARY, HIGH)[i % 4] for i in range(n)])
        self.school_kind = kinds.astype(np.int8)
        self.school_name_idx = rng.integers(0, 10_000, n)
        self.has_school_codes = (np.arange(n) % SCHOOL_CODE_EVERY) == 0
        self.n_schools = n

    def _person_arrays(self, m: int, grade: np.ndarray) -> dict[str, np.ndarray]:
        rng = self.rng
        first_year = self.cal.school_year - 1
        birth_year = first_year - 5 - grade.astype(np.int32)
        # birth date: Sep 1 of birth_year - 1 .. Aug 31 of birth_year
        base = np.array([day_number(dt.date(int(y) - 1, 9, 1)) for y in range(first_year - 18,
                                                                              first_year - 3)])
        birth = base[np.clip(birth_year - (first_year - 18), 0, len(base) - 1)] + rng.integers(0, 365, m)
        r = rng.random(m)
        p = np.clip(np.where(rng.random(m) < 0.85, rng.beta(1.6, 40.0, m), rng.beta(3.0, 16.0, m)), 0.0, 0.6)
        return {
            "grade": grade.astype(np.int8),
            "fn": rng.integers(0, 1 << 16, m).astype(np.int32),
            "ln": rng.integers(0, 1 << 16, m).astype(np.int32),
            "mn": rng.integers(0, 26, m).astype(np.int8),
            "birth": birth.astype(np.int32),
            "sex": np.select([r < 0.49, r < 0.98, r < 0.99], [0, 1, 2], 3).astype(np.int8),
            "race": rng.integers(0, 1 << 16, m).astype(np.int32),
            "nguard": np.where(rng.random(m) < 0.55, 2, 1).astype(np.int8),
            "prop": p.astype(np.float32),
            "tprop": rng.beta(1.2, 40.0, m).astype(np.float32),
        }

    def _build_students(self, n: int) -> None:
        rng = self.rng
        weights = rng.uniform(0.7, 1.3, self.n_schools)
        weights *= np.array([len(SCHOOL_GRADES[k]) for k in self.school_kind]) / 4.0
        per_school = np.floor(weights / weights.sum() * n).astype(np.int64)
        per_school[: n - per_school.sum()] += 1
        school = np.repeat(np.arange(self.n_schools), per_school)
        grade = np.empty(n, dtype=np.int8)
        lo = np.array([SCHOOL_GRADES[k].start for k in self.school_kind])
        ng = np.array([len(SCHOOL_GRADES[k]) for k in self.school_kind])
        starts = np.concatenate([[0], np.cumsum(per_school)[:-1]])
        local = np.arange(n) - np.repeat(starts, per_school)
        grade[:] = lo[school] + (local * ng[school]) // np.repeat(per_school, per_school)
        self.students = Grow({"school": "i4", "grade": "i1", "fn": "i4", "ln": "i4", "mn": "i1",
                              "birth": "i4", "sex": "i1", "race": "i4", "nguard": "i1", "g0": "i4",
                              "prop": "f4", "tprop": "f4", "stint": "i4", "mod": "i4"},
                             capacity=int(n * 1.1))
        cols = self._person_arrays(n, grade)
        self.guardians = Grow({"student": "i4", "fn": "i4", "ln": "i4", "kind": "i1", "mod": "i4"},
                              capacity=int(n * 1.8))
        self.students.append(school=school.astype(np.int32), mod=np.full(n, self.ys - 7, np.int32), **cols)
        self._add_guardians(np.arange(n), self.ys - 7)

    def _add_guardians(self, students: np.ndarray, day: int) -> None:
        rng = self.rng
        ng = self.students.cols["nguard"][students].astype(np.int64)
        owner = np.repeat(students, ng)
        m = len(owner)
        same_ln = rng.random(m) < 0.8
        ln = np.where(same_ln, self.students.cols["ln"][owner], rng.integers(0, 1 << 16, m))
        first = np.concatenate([[0], np.cumsum(ng)[:-1]]) if len(ng) else np.zeros(0, np.int64)
        idx = self.guardians.append(student=owner.astype(np.int32),
                                    fn=rng.integers(0, 1 << 16, m).astype(np.int32),
                                    ln=ln.astype(np.int32), kind=rng.integers(0, 2, m).astype(np.int8),
                                    mod=np.full(m, day, np.int32))
        self.students.cols["g0"][students] = idx[first] if m else 0

    def _build_classes(self) -> None:
        """Classes per (school, grade): N_SUBJECTS courses x sections of ~CLASS_SIZE students."""
        st = self.students
        key = st["school"].astype(np.int64) * 13 + st["grade"]
        counts = np.bincount(key, minlength=self.n_schools * 13)
        blocks = np.nonzero(counts)[0]
        nsec = np.maximum(1, np.rint(counts[blocks] / CLASS_SIZE)).astype(np.int64)
        self.block_school = (blocks // 13).astype(np.int32)
        self.block_grade = (blocks % 13).astype(np.int8)
        self.block_nsec = nsec
        self.block_of = np.full(self.n_schools * 13, -1, np.int64)
        self.block_of[blocks] = np.arange(len(blocks))
        self.block_class0 = np.concatenate([[0], np.cumsum(nsec * N_SUBJECTS)[:-1]]).astype(np.int64)
        n_classes = int((nsec * N_SUBJECTS).sum())
        cls_block = np.repeat(np.arange(len(blocks)), nsec * N_SUBJECTS)
        within = np.arange(n_classes) - self.block_class0[cls_block]
        self.class_block = cls_block.astype(np.int32)
        self.class_subject = (within // nsec[cls_block]).astype(np.int8)
        self.class_section = (within % nsec[cls_block]).astype(np.int32)
        self.class_school = self.block_school[cls_block]
        # courses: one per (block, subject)
        self.n_courses = len(blocks) * N_SUBJECTS
        self.class_course = (cls_block.astype(np.int64) * N_SUBJECTS + self.class_subject).astype(np.int32)
        # teachers: blocks of 5 consecutive classes of one school
        school_first = np.zeros(self.n_schools + 1, np.int64)
        np.add.at(school_first, self.class_school + 1, 1)
        school_first = np.cumsum(school_first)
        local = np.arange(n_classes) - school_first[self.class_school]
        per_school_teachers = (np.diff(school_first) + 4) // 5
        teacher_base = np.concatenate([[0], np.cumsum(per_school_teachers)[:-1]])
        self.class_teacher = (teacher_base[self.class_school] + local // 5).astype(np.int32)
        self.n_teachers = int(per_school_teachers.sum())
        self.teacher_school = np.repeat(np.arange(self.n_schools), per_school_teachers).astype(np.int32)
        self.teacher_fn = self.rng.integers(0, 1 << 16, self.n_teachers).astype(np.int32)
        self.teacher_ln = self.rng.integers(0, 1 << 16, self.n_teachers).astype(np.int32)
        self.n_classes = n_classes

    def _build_stints(self) -> None:
        st = self.students
        n = st.n
        self.stints = Grow({"student": "i4", "school": "i4", "block": "i4", "section": "i4", "begin": "i4",
                            "end": "i4", "mod": "i4"}, capacity=int(n * 1.2))
        block = self.block_of[st["school"].astype(np.int64) * 13 + st["grade"]]
        # section: position inside the (school, grade) block, round robin
        order = np.argsort(block, kind="stable")
        counts = np.bincount(block, minlength=len(self.block_nsec))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.empty(n, np.int64)
        pos[order] = np.arange(n) - np.repeat(starts, counts)
        section = pos % self.block_nsec[block]
        idx = self.stints.append(student=np.arange(n, dtype=np.int32), school=st["school"].copy(),
                                 block=block.astype(np.int32), section=section.astype(np.int32),
                                 begin=np.full(n, self.ys, np.int32), end=np.full(n, -1, np.int32),
                                 mod=np.full(n, self.ys - 7, np.int32))
        st["stint"][:] = idx

    # ---- the next school year ---------------------------------------------------------------------
    def rollover(self, calendar: SchoolCalendar, day: int) -> DayChanges:
        """Start school year ``calendar`` on ``day`` (summer): every enrollment open at the end of the
        year closes on its last day; students are promoted one grade and enrolled again from the new
        year's first day (new enrollments) at their school, or at a school teaching the new grade when
        theirs does not (elementary → middle → high); 12th graders and 5 % of the others leave; as many
        newcomers arrive in the lowest grade of a random school. Classes and courses stay."""
        rng = self.rng
        st, sp = self.students, self.stints
        old_end = self.ye
        self.cal = calendar
        self.ys = day_number(calendar.start)
        self.ye = day_number(calendar.end)
        cur = st["stint"].astype(np.int64)
        end = sp.cols["end"][cur]
        active = np.nonzero(((end < 0) | (end > old_end)) & (sp.cols["begin"][cur] < old_end))[0]
        closing = cur[active]
        sp.cols["end"][closing] = old_end
        sp.cols["mod"][closing] = day
        grade = st.cols["grade"][active].astype(np.int64) + 1
        school = st.cols["school"][active].astype(np.int64)
        leave = (rng.random(len(active)) < 0.05) | (grade > 12)
        grade = np.minimum(grade, 12)
        taught = self.block_of.reshape(-1, 13) >= 0                  # [school, grade]
        target = np.where(~leave & taught[school, grade], school, -1)
        pick = rng.random(len(active))
        for g in range(13):
            need = np.nonzero((target < 0) & ~leave & (grade == g))[0]
            options = np.nonzero(taught[:, g])[0]
            if len(need) and len(options):
                target[need] = options[(pick[need] * len(options)).astype(np.int64)]
        move = target >= 0
        movers = active[move]
        st.cols["grade"][movers] = grade[move]
        st.cols["school"][movers] = target[move]
        st.cols["mod"][active] = day
        opened = [self._open_stints(movers, target[move], self.ys, day)]
        n_new = int((~move).sum())
        new_ids = np.zeros(0, np.int64)
        if n_new:
            schools = rng.integers(0, self.n_schools, n_new)
            lowest = np.array([SCHOOL_GRADES[k].start for k in self.school_kind[schools]])
            ok = self.block_of[schools * 13 + lowest] >= 0
            schools, lowest = schools[ok], lowest[ok]
            cols = self._person_arrays(len(schools), lowest)
            new_ids = st.append(school=schools.astype(np.int32), mod=np.full(len(schools), day, np.int32),
                                **cols)
            self._add_guardians(new_ids, day)
            opened.append(self._open_stints(new_ids, schools, self.ys, day))
        students = np.unique(np.concatenate([active, new_ids]).astype(np.int64))
        g0 = st.cols["g0"][students]
        ngd = st.cols["nguard"][students].astype(np.int64)
        guardians = np.unique(np.concatenate([g0, (g0 + 1)[ngd > 1]])).astype(np.int64)
        stints = np.unique(np.concatenate([closing, *opened])).astype(np.int64)
        return DayChanges(students, guardians, stints, new_ids)

    # ---- class lookup ----------------------------------------------------------------------------
    def stint_classes(self, stints: np.ndarray) -> np.ndarray:
        """(len(stints), N_SUBJECTS) class indexes of each stint."""
        block = self.stints.cols["block"][stints].astype(np.int64)
        sec = self.stints.cols["section"][stints].astype(np.int64)
        base = self.block_class0[block] + sec
        return base[:, None] + np.arange(N_SUBJECTS)[None, :] * self.block_nsec[block][:, None]

    # ---- one simulated day -----------------------------------------------------------------------
    def simulate_day(self, day: int, instructional: bool) -> DayChanges:
        empty = np.zeros(0, np.int64)
        if not instructional:
            if self.ys <= day < self.ye and (day + 3) % 7 < 5:
                self._stray_events(day)
            return DayChanges(empty, empty, empty, empty)
        self._attendance(day)
        if day > self.ys:
            self._corrections(day)
        return self._roster_changes(day)

    def enrolled_students(self, day: int) -> np.ndarray:
        st = self.students
        stint = st["stint"]
        begin = self.stints.cols["begin"][stint]
        end = self.stints.cols["end"][stint]
        return np.nonzero((begin <= day) & ((end < 0) | (day < end)))[0]

    def _roster_changes(self, day: int) -> DayChanges:
        rng = self.rng
        st = self.students
        base = SCALES[self.scale][0]
        eff = day_number(next_weekday(from_day_number(day)))
        n_new = int(rng.poisson(max(0.25, base * 0.0002)))
        n_wd = int(rng.poisson(max(0.2, base * 0.00015)))
        n_tr = int(rng.poisson(max(0.2, base * 0.0001))) if self.n_schools > 1 else 0
        enrolled = self.enrolled_students(day)
        movers = rng.choice(enrolled, size=min(len(enrolled), n_wd + n_tr),
                            replace=False) if len(enrolled) else enrolled
        tr = movers[n_wd:]          # movers[:n_wd] withdraw: closing their stint is all it takes
        changed_stints = []
        # withdrawals and transfers: close the current stint
        closing = st["stint"][movers]
        self.stints.cols["end"][closing] = eff
        self.stints.cols["mod"][closing] = day
        changed_stints.append(closing)
        # transfers: new stint at another school teaching the same grade
        new_stints = []
        if len(tr):
            grade = st["grade"][tr]
            target = np.empty(len(tr), np.int64)
            for i, (s, g) in enumerate(zip(st["school"][tr], grade, strict=True)):
                options = np.nonzero((self.block_of.reshape(-1, 13)[:, g] >= 0)
                                     & (np.arange(self.n_schools) != s))[0]
                target[i] = rng.choice(options) if len(options) else s
            idx = self._open_stints(tr, target, eff, day)
            new_stints.append(idx)
            st.cols["school"][tr] = target
            st.cols["mod"][tr] = day
        # new students
        new_ids = np.zeros(0, np.int64)
        if n_new:
            school = rng.integers(0, self.n_schools, n_new)
            kind = self.school_kind[school]
            lo = np.array([SCHOOL_GRADES[k].start for k in kind])
            ng = np.array([len(SCHOOL_GRADES[k]) for k in kind])
            grade = lo + (rng.random(n_new) * ng).astype(np.int64)
            ok = self.block_of[school * 13 + grade] >= 0
            school, grade = school[ok], grade[ok]
            cols = self._person_arrays(len(school), grade)
            new_ids = st.append(school=school.astype(np.int32), mod=np.full(len(school), day, np.int32),
                                **cols)
            self._add_guardians(new_ids, day)
            idx = self._open_stints(new_ids, school, eff, day)
            new_stints.append(idx)
        all_stints = np.concatenate(changed_stints + new_stints) if (changed_stints
                                                                     or new_stints) else np.zeros(0, np.int64)
        students = np.unique(np.concatenate([tr, new_ids]).astype(np.int64))
        g0 = st.cols["g0"][students]
        ngd = st.cols["nguard"][students].astype(np.int64)
        guardians = np.unique(np.concatenate([g0, (g0 + 1)[ngd > 1]])).astype(np.int64)
        self.guardians.cols["mod"][guardians] = day
        return DayChanges(students, guardians.astype(np.int64), np.unique(all_stints).astype(np.int64),
                          new_ids)

    def _open_stints(self, students: np.ndarray, schools: np.ndarray, eff: int, day: int) -> np.ndarray:
        grade = self.students.cols["grade"][students].astype(np.int64)
        block = self.block_of[np.asarray(schools, np.int64) * 13 + grade]
        section = (self.rng.random(len(students)) * self.block_nsec[block]).astype(np.int32)
        idx = self.stints.append(student=np.asarray(students, np.int32), school=np.asarray(schools, np.int32),
                                 block=block.astype(np.int32), section=section,
                                 begin=np.full(len(students), eff, np.int32),
                                 end=np.full(len(students), -1, np.int32),
                                 mod=np.full(len(students), day, np.int32))
        self.students.cols["stint"][students] = idx
        return idx
