"""The building blocks of the OneRoster+ contract: the column types, the enumerations, ``Column``,
``Entity`` and the three columns every file starts with.

The files themselves (every entity, its columns, the contract per version) are in ``spec.py``, which
re-exports every name here; read them as ``spec.<name>``. No Dagster imports here.
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
    "_file": "VARCHAR",           # member name inside the delivery, as sent
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False          # a value is required (the header must then contain the column)
    enum: tuple[str, ...] = ()
    pii: bool = False               # personal data: never printed, never in metadata or reports
    references: str | None = None   # "entity" whose sourcedId this column (or list) points to
    extensible: bool = False        # OneRoster 1.2 vocabulary: ``ext:<name>`` values are accepted and kept

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
    extension: bool = False           # Kinvolved extension file, not OneRoster
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
