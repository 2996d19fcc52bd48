"""The OneRoster+ contract: every accepted file, its columns, types and enumerations.

One contract per OneRoster version (``ONEROSTER_11``, ``ONEROSTER_12``; ``contract(version)``): the
reader reads a delivery through the contract of its version. ``ENTITIES`` are the OneRoster 1.1 files;
``RAW_ENTITIES`` the raw entities (one asset each) over both versions, an entity's columns there
being the union of its versions' columns (the raw Parquet layout dbt reads).

This module (with its building blocks, the column types, enumerations, ``Column`` and ``Entity``,
in ``spec_types.py``) is the single place the format is written down. The reader, the Great Expectations
suites, the generator, the dbt empty-relation fallbacks and ``docs/oneroster-plus.md`` all derive
from it. No Dagster imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# the column types, enumerations, Column and Entity (re-exported: read them as ``spec.<name>``)
from .spec_types import (  # noqa: F401 - re-exported
    ABSENCE_CATEGORIES,
    CLASS_TYPES,
    COLUMN_TYPES,
    DUCKDB_TYPES,
    ENROLLMENT_ROLES,
    GRADES,
    GUID_MAX_LENGTH,
    GUID_PATTERN,
    LOADER_COLUMNS,
    MANIFEST_MODES,
    ORG_TYPES,
    SESSION_TYPES,
    SEX_VALUES,
    STATUS_ALIASES,
    STATUS_VALUES,
    USER_ROLES,
    Column,
    Entity,
    _base,
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

# OneRoster 1.1 files we recognise but do not ingest (reported as info, never an error).
IGNORED_ONEROSTER_FILES = (
    "categories", "classResources", "courseResources", "lineItems", "resources", "results",
)

# ---------------------------------------------------------------- OneRoster 1.2
# (1EdTech OneRoster 1.2 CSV binding.) users.csv loses role and orgSourcedIds: a user's roles and
# orgs are rows of roles.csv. Vocabularies may be extended with ``ext:`` values.

ROLE_TYPES = ("primary", "secondary")
ROLES_12 = ("aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
            "relative",
            "siteAdministrator", "student", "systemAdministrator", "teacher")
# A value of an extensible column outside its vocabulary: ``ext:`` and 1..250 more characters, no comma.
EXT_PREFIX = "ext:"
EXT_MAX_LENGTH = 254


def _extensible(ent: Entity, *names: str) -> Entity:
    """``ent`` with the vocabulary of ``names`` open to ``ext:`` values (OneRoster 1.2)."""
    cols = tuple(replace(c, extensible=True) if c.name in names else c for c in ent.columns)
    return replace(ent, columns=cols)


ORGS_12 = _extensible(ORGS, "type")
ACADEMIC_SESSIONS_12 = _extensible(ACADEMIC_SESSIONS, "type")
CLASSES_12 = _extensible(CLASSES, "classType")
ENROLLMENTS_12 = _extensible(ENROLLMENTS, "role")
DEMOGRAPHICS_12 = _extensible(DEMOGRAPHICS, "sex")

USERS_12 = Entity("users", "users", _base(
    Column("enabledUser", "boolean", required=True),
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
    Column("userMasterIdentifier", "string", pii=True),      # a person-level identifier (state id...)
    Column("resourceSourcedIds", "guid_list"),
    Column("preferredGivenName", "string", pii=True),
    Column("preferredMiddleName", "string", pii=True),
    Column("preferredFamilyName", "string", pii=True),
    Column("primaryOrgSourcedId", "guid", references="orgs"),
    Column("pronouns", "string", pii=True),
))

ROLES = Entity("roles", "roles", _base(
    Column("userSourcedId", "guid", required=True, references="users"),
    Column("roleType", "enum", required=True, enum=ROLE_TYPES),
    Column("role", "enum", required=True, enum=ROLES_12, extensible=True),
    Column("beginDate", "date"),
    Column("endDate", "date"),
    Column("orgSourcedId", "guid", required=True, references="orgs"),
    Column("userProfileSourcedId", "guid", references="user_profiles"),
))

USER_PROFILES = Entity("user_profiles", "userProfiles", _base(
    Column("userSourcedId", "guid", required=True, references="users"),
    Column("profileType", "string", required=True),
    Column("vendorId", "string", required=True),
    Column("applicationId", "string"),
    Column("description", "string"),
    Column("credentialType", "string", required=True),
    Column("username", "string", required=True, pii=True),
    Column("password", "string", pii=True),
), optional_file=True)

ENTITIES_12: tuple[Entity, ...] = (
    ORGS_12, ACADEMIC_SESSIONS_12, COURSES, CLASSES_12, USERS_12, ROLES, USER_PROFILES, ENROLLMENTS_12,
    DEMOGRAPHICS_12, ABSENCE_CODES, ATTENDANCE,
)
# 1.2 files we recognise but do not ingest (info), on top of the 1.1 ones.
IGNORED_ONEROSTER_12_FILES = ("userResources", "scoreScales", "lineItemScoreScales", "resultScoreScales",
                              "lineItemLearningObjectiveIds", "resultLearningObjectiveIds")


@dataclass(frozen=True)
class Contract:
    """The files of one OneRoster version, as a delivery of that version is read."""

    version: str
    entities: tuple[Entity, ...]
    ignored_files: tuple[str, ...]

    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(f"OneRoster {self.version} has no entity {name!r}")

    @property
    def entity_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)


ONEROSTER_11 = Contract("1.1", ENTITIES, IGNORED_ONEROSTER_FILES)
ONEROSTER_12 = Contract("1.2", ENTITIES_12, IGNORED_ONEROSTER_FILES + IGNORED_ONEROSTER_12_FILES)
CONTRACTS = {c.version: c for c in (ONEROSTER_11, ONEROSTER_12)}
# Files only a OneRoster 1.2 delivery has (their presence reads the delivery as 1.2).
ONEROSTER_12_ONLY_FILES = (*(e.file_stem for e in ENTITIES_12 if e.name not in ONEROSTER_11.entity_names),
                           *IGNORED_ONEROSTER_12_FILES)
# users.csv columns that only one version has (its header tells the version).
USERS_11_ONLY_COLUMNS = tuple(c for c in USERS.column_names if c not in USERS_12.column_names)
USERS_12_ONLY_COLUMNS = tuple(c for c in USERS_12.column_names if c not in USERS.column_names)


def contract(version: str) -> Contract:
    try:
        return CONTRACTS[version]
    except KeyError as exc:
        raise KeyError(f"unknown OneRoster version {version!r}; known: {sorted(CONTRACTS)}") from exc


def _raw_entities() -> tuple[Entity, ...]:
    """One raw entity per name over every version: 1.1 order, then the 1.2-only entities before
    the extensions; columns = the 1.1 columns, then the other versions' extra ones (none required)."""
    out: dict[str, Entity] = {}
    for ver in (ONEROSTER_11, ONEROSTER_12):
        for e in ver.entities:
            if e.name not in out:
                out[e.name] = e
                continue
            have = out[e.name].column_names
            extra = tuple(replace(c, required=False) for c in e.columns if c.name not in have)
            merged = tuple(replace(c, extensible=c.extensible or e.column(c.name).extensible)
                           if c.name in e.column_names else replace(c, required=False) for c
                           in out[e.name].columns)
            out[e.name] = replace(out[e.name], columns=merged + extra)
    order = [e.name for e in ENTITIES_12 if not e.extension] + [e.name for e in ENTITIES_12 if e.extension]
    return tuple(out[n] for n in order)


RAW_ENTITIES: tuple[Entity, ...] = _raw_entities()
ENTITIES_BY_NAME = {e.name: e for e in RAW_ENTITIES}

MANIFEST_FILE = "manifest.csv"   # propertyName,value
ACCEPTED_VERSIONS = tuple(CONTRACTS)


def entity(name: str) -> Entity:
    """The raw entity ``name`` (all versions' columns); a delivery reads through ``contract(v).entity``."""
    try:
        return ENTITIES_BY_NAME[name]
    except KeyError as exc:
        raise KeyError(f"unknown OneRoster+ entity {name!r}; known: {sorted(ENTITIES_BY_NAME)}") from exc
