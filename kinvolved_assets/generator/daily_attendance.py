"""One school day's attendance events of the simulated district (``District`` inherits these steps):
daily codes per enrolled student, period events of the period-only schools, stray events of
students not enrolled that day, and the corrections and deletions of earlier events."""

from __future__ import annotations

import numpy as np

from kinvolved_assets.generator.district_tables import CODE_INDEX, ELEMENTARY, FT_CODE, N_SUBJECTS


class DailyAttendance:
    """The attendance steps of ``District.simulate_day`` (state: the district's arrays and its rng)."""

    def _attendance(self, day: int) -> None:
        rng = self.rng
        st = self.students
        active = self.enrolled_students(day)
        stint = st["stint"][active]
        m = len(active)
        weekday = (day + 3) % 7
        boost = 1.25 if weekday in (0, 4) else 0.95
        u = rng.random(m)
        p = st["prop"][active] * boost
        t = st["tprop"][active]
        absent = u < p
        tardy = (~absent) & (u < p + t)
        early = (~absent) & (~tardy) & (u < p + t + 0.004)
        sel = np.nonzero(absent | tardy | early)[0]
        r = rng.random(len(sel))
        code = np.full(len(sel), CODE_INDEX["T"], np.int8)
        a = absent[sel]
        code[a] = np.select([r[a] < 0.42, r[a] < 0.80, r[a] < 0.86, r[a] < 0.94],
                            [CODE_INDEX["AE"], CODE_INDEX["AU"], CODE_INDEX["MED"], CODE_INDEX["HD"]],
                            CODE_INDEX["S"]).astype(np.int8)
        code[early[sel]] = CODE_INDEX["ED"]
        sch = st["school"][active[sel]]
        # a few school-only codes (field trip) at schools that have them
        ft = (~a) & self.has_school_codes[sch] & (r < 0.05)
        code[ft] = FT_CODE
        minutes = np.where(code == CODE_INDEX["HD"], 180,
                           np.where(code == CODE_INDEX["T"], rng.integers(3, 30, len(sel)), -1))
        comment = np.where(rng.random(len(sel)) < 0.04, rng.integers(0, 4, len(sel)), -1)
        by_id = rng.random(len(sel)) < 0.06
        n_daily = len(sel)
        # period-level events (middle/high): one class per selected student-day, not counted daily
        kind = self.school_kind[st["school"][active]]
        sec = np.nonzero((kind != ELEMENTARY) & (rng.random(m) < 0.02))[0]
        per = rng.integers(0, N_SUBJECTS, len(sec))
        cls = self.stint_classes(stint[sec])[np.arange(len(sec)), per]
        pcode = np.where(rng.random(len(sec)) < 0.7, CODE_INDEX["T"], CODE_INDEX["AU"]).astype(np.int8)
        pmin = np.where(pcode == CODE_INDEX["T"], rng.integers(2, 20, len(sec)), 50)
        self.day_event_start[day] = self.events.n
        parts = {
            "stint": [stint[sel], stint[sec]], "code": [code, pcode], "cls": [np.full(n_daily, -1), cls],
            "period": [np.full(n_daily, -1), per + 1], "minutes": [minutes, pmin],
            "by_id": [by_id, np.zeros(len(sec), bool)], "comment": [comment, np.full(len(sec), -1)],
        }
        if self.period_only.any():
            self._period_only_events(parts, active, sel, code, stint)
        columns = {k: np.concatenate(v) for k, v in parts.items()}
        total = len(columns["stint"])
        self.events.append(
            stint=columns["stint"].astype(np.int32), date=np.full(total, day, np.int32),
            code=columns["code"].astype(np.int8), cls=columns["cls"].astype(np.int32),
            period=columns["period"].astype(np.int8), minutes=columns["minutes"].astype(np.int16),
            by_id=columns["by_id"].astype(bool), comment=columns["comment"].astype(np.int8),
            mod=np.full(total, day, np.int32), deleted=np.zeros(total, bool),
        )

    def _period_only_events(self, parts: dict, active: np.ndarray, sel: np.ndarray, code: np.ndarray,
                            stint: np.ndarray) -> None:
        """At period-only schools the day's codes become period events: an absence is absent from all
        (60 %) or some periods, a half day from 2-4, a tardy is one tardy period; an early departure or
        a field trip leaves no event. A few daily codes stay beside their periods (an office entry:
        what wins is the rule's precedence), and a few
        events name a class of the school the student is not enrolled in (ignored by the rules)."""
        rng = self.rng
        st = self.students
        school = st["school"][active]
        at_po = self.period_only[school]
        # the daily events of period-only schools: a few stay, the rest are replaced
        n_daily = len(sel)
        po_daily = at_po[sel]
        keep_daily = ~po_daily | (rng.random(n_daily) < 0.08)
        converted = np.nonzero(po_daily)[0]       # the kept ones have their periods too
        for key in parts:
            parts[key][0] = parts[key][0][keep_daily]
        # the random period events (tardies and cuts) of period-only schools would share keys: dropped
        sec_keep = ~self.period_only[self.stints.cols["school"][parts["stint"][1]]]
        for key in parts:
            parts[key][1] = parts[key][1][sec_keep]
        c = code[converted]
        absent_kind = np.isin(c, [CODE_INDEX[t] for t in ("AE", "AU", "MED", "S", "HD")])
        tardy_kind = c == CODE_INDEX["T"]
        n = len(converted)
        k = np.where(rng.random(n) < 0.6, N_SUBJECTS, rng.integers(1, N_SUBJECTS, n))
        k = np.where(c == CODE_INDEX["HD"], rng.integers(2, 5, n), k)
        k = np.where(absent_kind, k, np.where(tardy_kind, 1, 0))
        ranks = np.argsort(rng.random((n, N_SUBJECTS)), axis=1).argsort(axis=1)
        pick = ranks < k[:, None]
        rows, subj = np.nonzero(pick)
        ev_stint = stint[sel][converted][rows]
        classes = self.stint_classes(ev_stint)[np.arange(len(rows)), subj]
        pc = np.where(c[rows] == CODE_INDEX["HD"], CODE_INDEX["AE"], c[rows])
        pmin = np.where(tardy_kind[rows], rng.integers(2, 20, len(rows)), rng.integers(40, 61, len(rows)))
        pmin = np.where(rng.random(len(rows)) < 0.1, -1, pmin)
        # a few events for a class the student is not enrolled in (another class of the same school)
        po_active = np.nonzero(at_po)[0]
        stray = po_active[rng.random(len(po_active)) < 0.005]
        s_stint = stint[stray]
        s_school = school[stray]
        first = np.searchsorted(self.class_school, s_school, side="left")      # classes are by school
        count = np.searchsorted(self.class_school, s_school, side="right") - first
        guess = first + (rng.random(len(stray)) * count).astype(np.int64)
        own = self.stint_classes(s_stint)
        ok = ~(own == guess[:, None]).any(axis=1)
        s_stint, s_cls = s_stint[ok], guess[ok]
        s_per = self.class_subject[s_cls].astype(np.int64) + 1
        add = {
            "stint": [ev_stint, s_stint], "code": [pc, np.full(len(s_stint), CODE_INDEX["AU"])],
            "cls": [classes, s_cls], "period": [subj + 1, s_per],
            "minutes": [pmin, np.full(len(s_stint), 50)],
            "by_id": [np.zeros(len(rows), bool), np.zeros(len(s_stint), bool)],
            "comment": [np.full(len(rows), -1), np.full(len(s_stint), -1)],
        }
        for key, values in add.items():
            parts[key].extend(values)

    def _stray_events(self, day: int) -> None:
        """A few events keyed on a school holiday by mistake (the attendance rules ignore them)."""
        rng = self.rng
        enrolled = self.enrolled_students(day)
        n = min(len(enrolled), int(rng.poisson(1.0)))
        self.day_event_start[day] = self.events.n
        if not n:
            return
        who = np.sort(rng.choice(enrolled, size=n, replace=False))
        self.events.append(
            stint=self.students.cols["stint"][who], date=np.full(n, day, np.int32),
            code=np.full(n, CODE_INDEX["AU"], np.int8), cls=np.full(n, -1, np.int32),
            period=np.full(n, -1, np.int8), minutes=np.full(n, -1, np.int16), by_id=np.zeros(n, bool),
            comment=np.full(n, -1, np.int8), mod=np.full(n, day, np.int32), deleted=np.zeros(n, bool))

    def _corrections(self, day: int) -> None:
        """Retroactive fixes: re-code some recent events, delete a few entered in error."""
        rng = self.rng
        ev = self.events
        window = [d for d in self.day_event_start if day - 14 <= d < day]
        if not window:
            return
        lo = self.day_event_start[min(window)]
        hi = self.day_event_start[day]
        if hi <= lo:
            return
        per_day = (hi - lo) / len(window)
        n_fix = int(rng.poisson(max(0.5, per_day * 0.03)))
        n_del = int(rng.poisson(max(0.3, per_day * 0.004)))
        pick = rng.integers(lo, hi, n_fix + n_del)
        pick = pick[~ev.cols["deleted"][pick]]
        pick = np.unique(pick)
        rng.shuffle(pick)
        fix, dele = pick[n_del:], pick[:n_del]
        code = ev.cols["code"]
        old = code[fix]
        new = np.where(np.isin(old, [CODE_INDEX["AU"], CODE_INDEX["HD"], CODE_INDEX["T"]]),
                       CODE_INDEX["AE"], CODE_INDEX["AU"]).astype(np.int8)
        code[fix] = new
        ev.cols["minutes"][fix] = -1
        ev.cols["mod"][pick] = day
        ev.cols["deleted"][dele] = True
