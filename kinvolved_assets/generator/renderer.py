"""Each entity file of one delivery as SQL over an Arrow table of integer codes (``Renderer``): the
small tables as Python rows, the large ones as one projection each."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from kinvolved_assets.generator.district_tables import (
    ALL_TITLES,
    DISTRICT_CODES,
    ELEMENTARY,
    N_SUBJECTS,
    SCHOOL_CODES,
    SCHOOL_KIND_NAMES,
    SUBJECT_CODES,
)
from kinvolved_assets.generator.names import (
    ADULT_FIRST_NAMES,
    AREA_CODES,
    CITIES,
    COMMENT_PREFIXES,
    FIRST_NAMES,
    GRADE_LABELS,
    LAST_NAMES,
    PLACES,
    STATES,
    SUBJECT_NAMES,
)
from kinvolved_assets.generator.render_sql import (
    Style,
    date_text,
    padded_id,
    pick,
    school_id,
    select_columns,
    timestamp_text,
)
from kinvolved_assets.generator.simulate import District
from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import string_list as _lit


class Renderer:
    """Builds the SQL + Arrow input of each entity file for one delivery."""

    def __init__(self, district: District, style: Style):
        self.d = district
        self.style = style
        # bulk files leave status/dateLastModified blank (rows carrying them read as a delta)
        self.bulk = False

    def _select(self, entity: spec.Entity, exprs: dict[str, str], extra: dict[str, str] | None = None) -> str:
        if self.bulk:
            exprs = {**exprs, "status": "NULL", "dateLastModified": "NULL"}
        return select_columns(entity, exprs, extra)

    # ---- small tables (Python rows) --------------------------------------------------------------
    def orgs_rows(self) -> list[dict]:
        d = self.d
        mod = (d.cal.start - dt.timedelta(days=7)).isoformat() + "T23:15:00Z"
        name = d.customer_id.replace("_", " ").title()
        rows = [{"sourcedId": "org-dist-0001", "status": "active", "dateLastModified": mod,
                 "name": f"{name} Unified School District", "type": "district", "identifier": "3600001"}]
        for i in range(d.n_schools):
            place = PLACES[int(d.school_name_idx[i]) % len(PLACES)]
            rows.append({"sourcedId": f"org-sch-{i + 1:04d}", "status": "active", "dateLastModified": mod,
                         "name": f"{place} {SCHOOL_KIND_NAMES[d.school_kind[i]]} No. {i + 1}",
                         "type": "school",
                         "identifier": f"{360000 + i + 1}", "parentSourcedId": "org-dist-0001"})
        return rows

    def sessions_rows(self) -> list[dict]:
        d = self.d
        mod = (d.cal.start - dt.timedelta(days=7)).isoformat() + "T23:15:00Z"
        return [{"sourcedId": s.sourced_id, "status": "active", "dateLastModified": mod, "title": s.title,
                 "type": s.type, "startDate": s.start.isoformat(), "endDate": s.end.isoformat(),
                 "parentSourcedId": s.parent, "schoolYear": str(d.cal.school_year)} for s in d.cal.sessions]

    def absence_code_rows(self) -> list[dict]:
        d = self.d
        mod = (d.cal.start - dt.timedelta(days=7)).isoformat() + "T23:15:00Z"
        b = self.style.bconst
        rows = []
        for title, absent, excused, desc, cat, frac in DISTRICT_CODES:
            rows.append({"sourcedId": f"abs-d-{title.lower()}", "status": "active", "dateLastModified": mod,
                         "title": title, "absent": b(absent), "excused": b(excused), "description": desc,
                         "category": cat, "dayFraction": None if frac is None else f"{frac:g}"})
        for i in np.nonzero(d.has_school_codes)[0]:
            for title, absent, excused, desc, cat, frac in SCHOOL_CODES:
                rows.append({"sourcedId": f"abs-sch-{i + 1:04d}-{title.lower()}", "status": "active",
                             "dateLastModified": mod, "title": title, "absent": b(absent),
                             "excused": b(excused),
                             "description": desc, "schoolSourcedId": f"org-sch-{i + 1:04d}", "category": cat,
                             "dayFraction": f"{frac:g}"})
        if self.style.quirks:
            for r in rows:
                r["metadata.localCode"] = "SIS-" + r["title"]
        return rows

    def rows_table(self, entity: spec.Entity, rows: list[dict]) -> pa.Table:
        if self.bulk:
            rows = [{**r, "status": None, "dateLastModified": None} for r in rows]
        names = list(entity.column_names) + sorted({k for r in rows for k in r} - set(entity.column_names))
        return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})

    # ---- large tables (SQL over integer arrays) --------------------------------------------------
    def courses(self) -> tuple[str, pa.Table]:
        d = self.d
        course = np.arange(d.n_courses)
        block = course // N_SUBJECTS
        subj = course % N_SUBJECTS
        kind = d.school_kind[d.block_school[block]]
        sname = np.where(kind == ELEMENTARY, subj, subj + N_SUBJECTS)
        t = pa.table({"c": course, "school": d.block_school[block],
                      "grade": d.block_grade[block].astype(np.int32),
                      "sname": sname})
        names = _lit(SUBJECT_NAMES)
        codes = _lit([SUBJECT_CODES[s] for s in SUBJECT_NAMES])
        grade = pick(GRADE_LABELS, "grade")
        sql = self._select(spec.COURSES, {
            "sourcedId": padded_id("crs-", "c", 6), "status": "'active'",
            "dateLastModified": timestamp_text(str(d.ys - 7)),
            "schoolYearSourcedId": f"'{d.cal.year_session_id}'",
            "title": "CASE WHEN grade = 0 THEN 'Kindergarten' ELSE 'Grade ' || CAST(grade AS VARCHAR) END "
                     f"|| ' ' || {names}[sname + 1]",
            "courseCode": f"{codes}[sname + 1] || '-' || {grade}",
            "grades": grade, "orgSourcedId": school_id("school"),
            "subjects": f"{names}[sname + 1]", "subjectCodes": f"{codes}[sname + 1]",
        }) + " FROM t"
        return sql, t

    def classes(self) -> tuple[str, pa.Table]:
        d = self.d
        kind = d.school_kind[d.class_school]
        sname = np.where(kind == ELEMENTARY, d.class_subject, d.class_subject + N_SUBJECTS)
        t = pa.table({"c": np.arange(d.n_classes), "course": d.class_course, "school": d.class_school,
                      "grade": d.block_grade[d.class_block].astype(np.int32), "sname": sname.astype(np.int32),
                      "section": d.class_section, "kind": kind.astype(np.int32),
                      "subj": d.class_subject.astype(np.int32)})
        names = _lit(SUBJECT_NAMES)
        codes = _lit([SUBJECT_CODES[s] for s in SUBJECT_NAMES])
        grade = pick(GRADE_LABELS, "grade")
        s1, s2 = d.cal.term_ids
        sql = self._select(spec.CLASSES, {
            "sourcedId": padded_id("cls-", "c", 7), "status": "'active'",
            "dateLastModified": timestamp_text(str(d.ys - 7)),
            "title": f"{names}[sname + 1] || ' ' || {grade} || ' - Section ' || CAST(section + 1 AS VARCHAR)",
            "grades": grade, "courseSourcedId": padded_id("crs-", "course", 6),
            "classCode": f"{codes}[sname + 1] || '-' || {grade} || '-' || lpad(CAST(section + 1 AS VARCHAR), "
                         "2, '0')",
            "classType": f"CASE WHEN kind = {ELEMENTARY} AND subj = 0 THEN 'homeroom' ELSE 'scheduled' END",
            "location": "'Room ' || CAST(100 + (c * 7) % 300 AS VARCHAR)",
            "schoolSourcedId": school_id("school"), "termSourcedIds": f"'{s1},{s2}'",
            "subjects": f"{names}[sname + 1]", "subjectCodes": f"{codes}[sname + 1]",
            "periods": f"CASE WHEN kind = {ELEMENTARY} THEN NULL ELSE CAST(subj + 1 AS VARCHAR) END",
        }) + " FROM t"
        return sql, t

    def users(self, students: np.ndarray | None, guardians: np.ndarray | None,
              teachers: bool) -> tuple[str, pa.Table]:
        """Students, then teachers, then guardians; ``None`` = all of that kind."""
        d = self.d
        st, gd = d.students, d.guardians
        s = np.arange(st.n) if students is None else np.asarray(students, np.int64)
        g = np.arange(gd.n) if guardians is None else np.asarray(guardians, np.int64)
        tch = np.arange(d.n_teachers) if teachers else np.zeros(0, np.int64)
        ns, nt, ng = len(s), len(tch), len(g)
        stu_school = st.cols["school"][s]
        g_owner = gd.cols["student"][g]
        kind = np.concatenate([np.zeros(ns), np.ones(nt), np.full(ng, 2)]).astype(np.int8)
        t = pa.table({
            "kind": kind,
            "id": np.concatenate([s, tch, g]),
            "school": np.concatenate([stu_school, d.teacher_school[tch], st.cols["school"][g_owner]]),
            "fn": np.concatenate([st.cols["fn"][s], d.teacher_fn[tch], gd.cols["fn"][g]]),
            "ln": np.concatenate([st.cols["ln"][s], d.teacher_ln[tch], gd.cols["ln"][g]]),
            "mn": np.concatenate([st.cols["mn"][s], np.zeros(nt + ng, np.int8)]),
            "grade": np.concatenate([st.cols["grade"][s], np.zeros(nt + ng, np.int8)]).astype(np.int32),
            "g0": np.concatenate([st.cols["g0"][s], np.zeros(nt), g_owner]).astype(np.int64),
            "ng": np.concatenate([st.cols["nguard"][s], np.zeros(nt + ng, np.int8)]).astype(np.int32),
            "gkind": np.concatenate([np.zeros(ns + nt, np.int8), gd.cols["kind"][g]]),
            "mod": np.concatenate([st.cols["mod"][s], np.full(nt, d.ys - 7, np.int32), gd.cols["mod"][g]]),
        })
        sdom = f"{d.customer_id.replace('_', '')}.k12.example.org"
        fn_expr = f"CASE kind WHEN 2 THEN {pick(ADULT_FIRST_NAMES, 'fn')} ELSE {pick(FIRST_NAMES, 'fn')} END"
        fn, ln = "fname", "lname"
        uid = (f"CASE kind WHEN 0 THEN {padded_id('usr-stu-', 'id', 7)} WHEN 1 THEN "
               f"{padded_id('usr-tch-', 'id', 6)} ELSE {padded_id('usr-gdn-', 'id', 7)} END")
        num = "CAST(1000000 + id AS VARCHAR)"
        phone = ("'+1' || " + pick(AREA_CODES,
                                   "id * 7 + fn") + " || '555' || lpad(CAST((id * 7919 + fn) % 10000 AS "
                                                    "VARCHAR), 4, '0')")
        exprs = {
            "sourcedId": uid, "status": "'active'", "dateLastModified": timestamp_text("mod"),
            "enabledUser": f"'{self.style.bconst(True)}'", "orgSourcedIds": school_id("school"),
            "role": "CASE kind WHEN 0 THEN 'student' WHEN 1 THEN 'teacher' ELSE CASE WHEN gkind = 0 THEN "
                    "'guardian' ELSE 'parent' END END",
            "username": "uname",
            "userIds": f"CASE kind WHEN 0 THEN '{{SIS:' || {num} || '}}' ELSE NULL END",
            "givenName": fn, "familyName": ln,
            "middleName": "CASE kind WHEN 0 THEN chr(65 + mn) ELSE NULL END",
            "identifier": f"CASE kind WHEN 0 THEN 'S' || {num} WHEN 1 THEN 'T' || CAST(50000 + id AS "
                          "VARCHAR) ELSE NULL END",
            "email": f"CASE kind WHEN 0 THEN uname || '@students.{sdom}' "
                     f"WHEN 1 THEN lower({fn} || '.' || {ln}) || CAST(id + 1 AS VARCHAR) || '@{sdom}' "
                     f"ELSE lower({fn} || '.' || {ln}) || CAST(id % 1000 AS VARCHAR) || '@mail.example.com' "
                     "END",
            "sms": "CASE kind WHEN 2 THEN ph ELSE NULL END",
            "phone": "CASE kind WHEN 0 THEN NULL ELSE ph END",
            "agentSourcedIds": f"CASE kind WHEN 0 THEN {padded_id('usr-gdn-', 'g0', 7)} || CASE WHEN ng > 1 "
                               f"THEN ',' || {padded_id('usr-gdn-', 'g0 + 1', 7)} ELSE '' END "
                               f"WHEN 2 THEN {padded_id('usr-stu-', 'g0', 7)} ELSE NULL END",
            "grades": f"CASE kind WHEN 0 THEN {pick(GRADE_LABELS, 'grade')} ELSE NULL END",
        }
        extra = {"metadata.localCode": "CASE kind WHEN 0 THEN 'LC' || CAST(700000 + id AS VARCHAR) ELSE NULL "
                                       "END"} if self.style.quirks else None
        inner = (f"SELECT *, CASE kind WHEN 0 THEN lower(substr(fname, 1, 1) || lname) || {num} "
                 f"ELSE lower(fname || '.' || lname) || CAST(id + 1 AS VARCHAR) END AS uname FROM "
                 f"(SELECT *, {fn_expr} AS fname, {pick(LAST_NAMES, 'ln')} AS lname, {phone} AS ph FROM t)")
        return self._select(spec.USERS, exprs, extra) + f" FROM ({inner})", t

    def demographics(self, students: np.ndarray | None) -> tuple[str, pa.Table]:
        d = self.d
        st = d.students
        s = np.arange(st.n) if students is None else np.asarray(students, np.int64)
        race = st.cols["race"][s]
        t = pa.table({"id": s, "birth": st.cols["birth"][s], "sex": st.cols["sex"][s].astype(np.int32),
                      "r": (race % 100).astype(np.int32), "h": ((race >> 8) % 100).astype(np.int32),
                      "mod": st.cols["mod"][s]})
        b = self.style.b
        exprs = {
            "sourcedId": padded_id("usr-stu-", "id", 7), "status": "'active'",
            "dateLastModified": timestamp_text("mod"),
            "birthDate": date_text("birth"), "sex": pick(("male", "female", "other", "unspecified"), "sex"),
            "americanIndianOrAlaskaNative": b("r >= 85 AND r < 87"), "asian": b("r >= 70 AND r < 82"),
            "blackOrAfricanAmerican": b("r >= 42 AND r < 70"),
            "nativeHawaiianOrOtherPacificIslander": b("r = 87"),
            "white": b("r < 42"), "demographicRaceTwoOrMoreRaces": b("r >= 88 AND r < 95"),
            "hispanicOrLatinoEthnicity": b("h < 30"),
            "countryOfBirthCode": "CASE WHEN h % 10 < 8 THEN 'US' ELSE " + pick(("DO", "MX", "JM", "BD", "NG",
                                                                                 "EC"), "id") + " END",
            "stateOfBirthAbbreviation": "CASE WHEN h % 10 < 8 THEN " + pick(STATES,
                                                                            "id // 3") + " ELSE NULL END",
            "cityOfBirth": pick(CITIES, "id // 5 + h"),
            "publicSchoolResidenceStatus": "CASE WHEN r % 20 = 0 THEN '01653' ELSE '01652' END",
        }
        return self._select(spec.DEMOGRAPHICS, exprs) + " FROM t", t

    def enrollments(self, stints: np.ndarray | None, teachers: bool) -> tuple[str, pa.Table]:
        d = self.d
        sp = d.stints
        e = np.arange(sp.n) if stints is None else np.asarray(stints, np.int64)
        cls = d.stint_classes(e).reshape(-1)
        k = np.tile(np.arange(N_SUBJECTS), len(e))
        rep = np.repeat(e, N_SUBJECTS)
        tc = np.arange(d.n_classes) if teachers else np.zeros(0, np.int64)
        nt = len(tc)
        t = pa.table({
            "kind": np.concatenate([np.zeros(len(rep), np.int8), np.ones(nt, np.int8)]),
            "e": np.concatenate([rep, tc]),
            "k": np.concatenate([k, np.zeros(nt, np.int64)]),
            "cls": np.concatenate([cls, tc]),
            "school": np.concatenate([sp.cols["school"][rep], d.class_school[tc]]),
            "usr": np.concatenate([sp.cols["student"][rep], d.class_teacher[tc]]).astype(np.int64),
            "b": np.concatenate([sp.cols["begin"][rep], np.full(nt, d.ys, np.int32)]),
            "en": np.concatenate([sp.cols["end"][rep], np.full(nt, -1, np.int32)]),
            "mod": np.concatenate([sp.cols["mod"][rep], np.full(nt, d.ys - 7, np.int32)]),
        })
        exprs = {
            "sourcedId": f"CASE kind WHEN 0 THEN {padded_id('enr-', 'e', 8)} || '-' || CAST(k + 1 AS "
                         f"VARCHAR) ELSE {padded_id('enr-t', 'e', 7)} END",
            "status": "'active'", "dateLastModified": timestamp_text("mod"),
            "classSourcedId": padded_id("cls-", "cls", 7), "schoolSourcedId": school_id("school"),
            "userSourcedId": f"CASE kind WHEN 0 THEN {padded_id('usr-stu-', 'usr', 7)} ELSE "
                             f"{padded_id('usr-tch-', 'usr', 6)} END",
            "role": "CASE kind WHEN 0 THEN 'student' ELSE 'teacher' END",
            "primary": self.style.b("kind = 1"),
            "beginDate": date_text("b"), "endDate": date_text("en"),
        }
        return self._select(spec.ENROLLMENTS, exprs) + " FROM t", t

    def attendance(self, rows: np.ndarray) -> tuple[str, pa.Table]:
        d = self.d
        ev, sp, st, gd = d.events, d.stints, d.students, d.guardians
        stint = ev.cols["stint"][rows]
        school = sp.cols["school"][stint]
        student = sp.cols["student"][stint]
        g = st.cols["g0"][student]
        t = pa.table({
            "i": rows.astype(np.int64), "student": student, "school": school,
            "sc": d.has_school_codes[school], "date": ev.cols["date"][rows],
            "code": ev.cols["code"][rows].astype(np.int32), "cls": ev.cols["cls"][rows],
            "period": ev.cols["period"][rows].astype(np.int32),
            "minutes": ev.cols["minutes"][rows].astype(np.int32),
            "by_id": ev.cols["by_id"][rows], "cm": ev.cols["comment"][rows].astype(np.int32),
            "gfn": gd.cols["fn"][g], "gln": gd.cols["ln"][g],
            "mod": ev.cols["mod"][rows], "del": ev.cols["deleted"][rows],
        })
        titles = _lit(ALL_TITLES)
        school_titles = _lit([c[0] for c in SCHOOL_CODES])
        title = "title"
        exprs = {
            "sourcedId": padded_id("att-", "i", 9),
            "status": "CASE WHEN del THEN 'tobedeleted' ELSE 'active' END",
            "dateLastModified": timestamp_text("mod"),
            "classSourcedId": f"CASE WHEN cls < 0 THEN NULL ELSE {padded_id('cls-', 'cls', 7)} END",
            "schoolSourcedId": school_id("school"), "userSourcedId": padded_id("usr-stu-", "student", 7),
            "date": date_text("date"),
            "absenceCode": f"CASE WHEN NOT by_id THEN {title} "
                           f"WHEN sc AND list_contains({school_titles}, {title}) THEN "
                           f"{padded_id('abs-sch-', 'school', 4)} || '-' || lower({title}) "
                           f"ELSE 'abs-d-' || lower({title}) END",
            "period": "CASE WHEN period < 0 THEN NULL ELSE CAST(period AS VARCHAR) END",
            "minutesAbsent": "CASE WHEN minutes < 0 THEN NULL ELSE CAST(minutes AS VARCHAR) END",
            "comment": f"CASE WHEN cm < 0 THEN NULL ELSE {_lit(COMMENT_PREFIXES)}[cm + 1] || "
                       f"{pick(ADULT_FIRST_NAMES, 'gfn')} || ' ' || {pick(LAST_NAMES, 'gln')} END",
        }
        return (self._select(spec.ATTENDANCE, exprs)
                + f" FROM (SELECT *, {titles}[code + 1] AS title FROM t)", t)
