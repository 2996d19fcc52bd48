"""The simulated district's fixed tables: scales, school kinds and grades, subjects, and the absence
codes of the district and of some schools (with the event code numbering built on them)."""

from __future__ import annotations

SCALES = {
    # name: (students, schools)
    "tiny": (200, 1),
    "small": (2_500, 5),
    "medium": (50_000, 60),
    "large": (250_000, 300),
    "xl": (1_000_000, 1_200),
}

ELEMENTARY, MIDDLE, HIGH = 0, 1, 2
SCHOOL_KIND_NAMES = ("Elementary School", "Middle School", "High School")
SCHOOL_GRADES = {ELEMENTARY: range(0, 6), MIDDLE: range(6, 9), HIGH: range(9, 13)}   # 0 = KG
N_SUBJECTS = 7
CLASS_SIZE = 25
ELEMENTARY_SUBJECTS = ("Homeroom", "English Language Arts", "Mathematics", "Science", "Social Studies",
                       "Art", "Physical Education")
SECONDARY_SUBJECTS = ("English", "Mathematics", "Science", "Social Studies", "World Language",
                      "Physical Education", "Music")
SUBJECT_CODES = {"Homeroom": "HR", "English Language Arts": "ELA", "English": "ENG", "Mathematics": "MATH",
                 "Science": "SCI", "Social Studies": "SS", "Art": "ART", "Physical Education": "PE",
                 "World Language": "WL", "Music": "MUS"}

# District-wide absence codes: (title, absent, excused, description, category, dayFraction or None)
DISTRICT_CODES = (
    ("P", False, False, "Present", "present", 0.0),
    ("AE", True, True, "Absent - excused", "excused_absence", 1.0),
    ("AU", True, False, "Absent - unexcused", "unexcused_absence", 1.0),
    ("S", True, False, "Out-of-school suspension", "suspension", 1.0),
    ("T", False, False, "Tardy", "tardy", 0.0),
    ("HD", True, True, "Half day absent", "partial", 0.5),
    ("ED", False, False, "Early departure", "early_departure", None),
    ("MED", True, True, "Medical appointment", "excused_absence", 1.0),
)
CODE_INDEX = {c[0]: i for i, c in enumerate(DISTRICT_CODES)}
# School-specific codes: attached to every SCHOOL_CODE_EVERY-th school (school index 0, k, 2k, ...).
# "HD" overrides the district code of the same title; "FT" and "ISS" exist only at those schools.
SCHOOL_CODES = (
    ("HD", True, True, "Half day absent (quarter-day policy)", "partial", 0.25),
    ("FT", False, True, "Field trip", "present", 0.0),
    ("ISS", False, False, "In-school suspension", "suspension", 0.0),
)
SCHOOL_CODE_EVERY = 4
# event code numbering: 0..len(DISTRICT_CODES)-1 district titles, then school-only titles
FT_CODE = len(DISTRICT_CODES)
ALL_TITLES = tuple(c[0] for c in DISTRICT_CODES) + ("FT", "ISS")
