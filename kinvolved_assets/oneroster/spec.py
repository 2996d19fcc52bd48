"""The OneRoster+ contract: every accepted file, its columns, types and enumerations.

This module is the single place the format is written down. The reader, the Great Expectations
suites, the generator, the dbt empty-relation fallbacks and ``docs/oneroster-plus.md`` all derive
from it. No Dagster imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column types of the contract (see docs/oneroster-plus.md):
#   guid        [0-9a-zA-Z._-/@], < 256 chars
#   string      free text
#   date        YYYY-MM-DD
#   datetime    ISO 8601 UTC (YYYY-MM-DDTHH:MM:SS[.fff]Z); a bare date is accepted as midnight UTC
#   year        YYYY
#   boolean     true/false (any case)
#   enum        one of ``enum`` (matched case-insensitively, stored canonical)
#   guid_list   comma list of guids inside one quoted field
#   list        comma list of strings inside one quoted field
#   enum_list   comma list of ``enum`` values (grades)
#   float       decimal number
#   integer     whole number
COLUMN_TYPES = (
    "guid", "string", "date", "datetime", "year", "boolean", "enum",
    "guid_list", "list", "enum_list", "float", "integer",
)

# DuckDB type each contract type lands as in raw Parquet.
DUCKDB_TYPES = {
    "guid": "VARCHAR",
    "string": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "year": "INTEGER",
    "boolean": "BOOLEAN",
    "enum": "VARCHAR",
    "guid_list": "VARCHAR[]",
    "list": "VARCHAR[]",
    "enum_list": "VARCHAR[]",
    "float": "DOUBLE",
    "integer": "BIGINT",
}

GUID_PATTERN = r"^[0-9a-zA-Z._\-/@]{1,255}$"
GUID_MAX_LENGTH = 255

STATUS_VALUES = ("active", "tobedeleted")
# Deprecated OneRoster 1.0 value, read as ``tobedeleted`` (with a warning).
STATUS_ALIASES = {"inactive": "tobedeleted"}

ORG_TYPES = ("department", "school", "district", "local", "state", "national")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
USER_ROLES = ("administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher")
GRADES = (
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
    "11", "12", "13", "PS", "UG", "Other",
)
SEX_VALUES = ("male", "female", "other", "unspecified")
ABSENCE_CATEGORIES = (
    "present", "tardy", "excused_absence", "unexcused_absence", "early_departure", "partial", "suspension",
)
MANIFEST_MODES = ("bulk", "delta", "absent")

# Columns the loader adds to every raw Parquet file (not part of the CSV).
LOADER_COLUMNS = {
    "_line": "BIGINT",            # 1-based line number of the record in the CSV (header is line 1)
    "_delivery_date": "DATE",     # the delivery (partition) date
    "_mode": "VARCHAR",           # bulk | delta, as resolved for this file
    "_file": "VARCHAR",           # member name inside the drop, as sent
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False          # a value is required (the header must then contain the column)
    enum: tuple[str, ...] = ()
    pii: bool = False               # personal data: never printed, never in metadata or reports
    references: str | None = None   # "entity" whose sourcedId this column (or list) points to

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {self.type!r} for {self.name}")

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Entity:
    name: str                         # snake_case entity / asset name, e.g. "academic_sessions"
    file_stem: str                    # canonical file name without .csv, e.g. "academicSessions"
    columns: tuple[Column, ...]
    optional_file: bool = False       # a delivery may leave it out entirely
    extension: bool = False           # Kinvolved extension file, not OneRoster 1.1
    aliases: tuple[str, ...] = field(default=())   # extra normalized stems accepted by discovery

    @property
    def file_name(self) -> str:
        return f"{self.file_stem}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def pii_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.file_name} has no column {name!r}")


def _base(*more: Column) -> tuple[Column, ...]:
    """sourcedId, status, dateLastModified start every OneRoster file."""
    return (
        Column("sourcedId", "guid", required=True),
        Column("status", "enum", enum=STATUS_VALUES),
        Column("dateLastModified", "datetime"),
        *more,
    )


ORGS = Entity("orgs", "orgs", _base(
    Column("name", "string", required=True),
    Column("type", "enum", required=True, enum=ORG_TYPES),
    Column("identifier", "string"),
    Column("parentSourcedId", "guid", references="orgs"),
))

ACADEMIC_SESSIONS = Entity("academic_sessions", "academicSessions", _base(
    Column("title", "string", required=True),
    Column("type", "enum", required=True, enum=SESSION_TYPES),
    Column("startDate", "date", required=True),
    Column("endDate", "date", required=True),
    Column("parentSourcedId", "guid", references="academic_sessions"),
    Column("schoolYear", "year", required=True),
))

COURSES = Entity("courses", "courses", _base(
    Column("schoolYearSourcedId", "guid", references="academic_sessions"),
    Column("title", "string", required=True),
    Column("courseCode", "string"),
    Column("grades", "enum_list", enum=GRADES),
    Column("orgSourcedId", "guid", required=True, references="orgs"),
    Column("subjects", "list"),
    Column("subjectCodes", "list"),
))

CLASSES = Entity("classes", "classes", _base(
    Column("title", "string", required=True),
    Column("grades", "enum_list", enum=GRADES),
    Column("courseSourcedId", "guid", required=True, references="courses"),
    Column("classCode", "string"),
    Column("classType", "enum", required=True, enum=CLASS_TYPES),
    Column("location", "string"),
    Column("schoolSourcedId", "guid", required=True, references="orgs"),
    Column("termSourcedIds", "guid_list", required=True, references="academic_sessions"),
    Column("subjects", "list"),
    Column("subjectCodes", "list"),
    Column("periods", "list"),
))

USERS = Entity("users", "users", _base(
    Column("enabledUser", "boolean", required=True),
    Column("orgSourcedIds", "guid_list", required=True, references="orgs"),
    Column("role", "enum", required=True, enum=USER_ROLES),
    Column("username", "string", required=True, pii=True),
    Column("userIds", "list"),
    Column("givenName", "string", required=True, pii=True),
    Column("familyName", "string", required=True, pii=True),
    Column("middleName", "string", pii=True),
    Column("identifier", "string"),
    Column("email", "string", pii=True),
    Column("sms", "string", pii=True),
    Column("phone", "string", pii=True),
    Column("agentSourcedIds", "guid_list", references="users"),
    Column("grades", "enum_list", enum=GRADES),
    Column("password", "string", pii=True),
))

ENROLLMENTS = Entity("enrollments", "enrollments", _base(
    Column("classSourcedId", "guid", required=True, references="classes"),
    Column("schoolSourcedId", "guid", required=True, references="orgs"),
    Column("userSourcedId", "guid", required=True, references="users"),
    Column("role", "enum", required=True, enum=ENROLLMENT_ROLES),
    Column("primary", "boolean"),
    Column("beginDate", "date"),
    Column("endDate", "date"),
))

DEMOGRAPHICS = Entity("demographics", "demographics", _base(
    Column("birthDate", "date", pii=True),
    Column("sex", "enum", enum=SEX_VALUES),
    Column("americanIndianOrAlaskaNative", "boolean"),
    Column("asian", "boolean"),
    Column("blackOrAfricanAmerican", "boolean"),
    Column("nativeHawaiianOrOtherPacificIslander", "boolean"),
    Column("white", "boolean"),
    Column("demographicRaceTwoOrMoreRaces", "boolean"),
    Column("hispanicOrLatinoEthnicity", "boolean"),
    Column("countryOfBirthCode", "string", pii=True),
    Column("stateOfBirthAbbreviation", "string", pii=True),
    Column("cityOfBirth", "string", pii=True),
    Column("publicSchoolResidenceStatus", "string"),
), optional_file=True)

ABSENCE_CODES = Entity("absence_codes", "absenceCodes", _base(
    Column("title", "string", required=True),          # the SIS code, e.g. "AE"
    Column("absent", "boolean", required=True),        # counts as an absence
    Column("excused", "boolean", required=True),
    Column("description", "string"),
    Column("schoolSourcedId", "guid", references="orgs"),   # blank = district-wide
    Column("category", "enum", enum=ABSENCE_CATEGORIES),
    Column("dayFraction", "float"),                    # 0-1; default 1 when absent, else 0
), extension=True)

ATTENDANCE = Entity("attendance", "attendance", _base(
    Column("classSourcedId", "guid", references="classes"),  # blank = daily, school-level event
    Column("schoolSourcedId", "guid", required=True, references="orgs"),
    Column("userSourcedId", "guid", required=True, references="users"),
    Column("date", "date", required=True),
    Column("absenceCode", "string", required=True),    # the code's title or sourcedId
    Column("period", "string"),
    Column("minutesAbsent", "float"),
    Column("comment", "string", pii=True),             # free text may name a person
), extension=True)

ENTITIES: tuple[Entity, ...] = (
    ORGS, ACADEMIC_SESSIONS, COURSES, CLASSES, USERS, ENROLLMENTS, DEMOGRAPHICS, ABSENCE_CODES, ATTENDANCE,
)
ENTITIES_BY_NAME = {e.name: e for e in ENTITIES}

# OneRoster 1.1 files we recognise but do not ingest (reported as info, never an error).
IGNORED_ONEROSTER_FILES = (
    "categories", "classResources", "courseResources", "lineItems", "resources", "results",
)
# Files that only a OneRoster 1.2 drop has.
ONEROSTER_12_ONLY_FILES = ("roles", "userProfiles", "userResources", "scoreScales")

# Manifest (manifest.csv: propertyName,value).
MANIFEST_FILE = "manifest.csv"
MANIFEST_COLUMNS = ("propertyName", "value")
ACCEPTED_VERSIONS = ("1.0", "1.1")


def entity(name: str) -> Entity:
    try:
        return ENTITIES_BY_NAME[name]
    except KeyError as exc:
        raise KeyError(f"unknown OneRoster+ entity {name!r}; known: {sorted(ENTITIES_BY_NAME)}") from exc
