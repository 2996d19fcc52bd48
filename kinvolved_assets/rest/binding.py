"""OneRoster REST JSON <-> the contract's CSV columns, for API versions 1.1 and 1.2.

One table (``FIELDS``) says how every CSV column of ``spec.py`` appears in a REST record: the same
name, a GUIDRef object (``{"sourcedId", "type", "href"}``), a list of GUIDRefs, a list of strings,
``userIds`` objects, a boolean or a number. The local provider renders CSV rows with it and the pull
converts responses back with it, so both directions are one definition.

1.2 differs from 1.1 in booleans (JSON ``true``/``false`` instead of the strings ``"true"``/``"false"``)
and in users: a 1.2 user carries ``roles`` (``[{"roleType": "primary"|"secondary", "role", "org"}]``)
instead of ``role`` + ``orgs``. Responses of either version become 1.1-shaped CSV (the contract reads
OneRoster 1.1): ``role`` is the primary role, ``orgSourcedIds`` the roles' orgs in order.
The Kinvolved extensions (``absenceCodes``, ``attendance``) use the CSV column names as JSON keys.
"""

from __future__ import annotations

import math
from typing import Any

from kinvolved_assets.oneroster import spec

PREFIX = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}
ENDPOINTS = {   # entity -> path below the version prefix (= the JSON collection key's source)
    "orgs": "orgs", "academic_sessions": "academicSessions", "courses": "courses", "classes": "classes",
    "users": "users", "enrollments": "enrollments", "demographics": "demographics",
    "absence_codes": "kinvolved/absenceCodes", "attendance": "kinvolved/attendance",
}
REF_TYPES = {"orgs": "org", "academic_sessions": "academicSession", "courses": "course", "classes": "class",
             "users": "user"}

# csv column -> (json key, kind); columns not listed are plain (same key, string value)
FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "orgs": {"parentSourcedId": ("parent", "ref")},
    "academic_sessions": {"parentSourcedId": ("parent", "ref")},
    "courses": {"schoolYearSourcedId": ("schoolYear", "ref"), "orgSourcedId": ("org", "ref"),
                "grades": ("grades", "list"), "subjects": ("subjects", "list"),
                "subjectCodes": ("subjectCodes", "list")},
    "classes": {"courseSourcedId": ("course", "ref"), "schoolSourcedId": ("school", "ref"),
                "termSourcedIds": ("terms", "refs"), "grades": ("grades", "list"),
                "subjects": ("subjects", "list"), "subjectCodes": ("subjectCodes", "list"),
                "periods": ("periods", "list")},
    "users": {"enabledUser": ("enabledUser", "bool"), "orgSourcedIds": ("orgs", "refs"),
              "userIds": ("userIds", "userIds"), "agentSourcedIds": ("agents", "refs"),
              "grades": ("grades", "list")},
    "enrollments": {"classSourcedId": ("class", "ref"), "schoolSourcedId": ("school", "ref"),
                    "userSourcedId": ("user", "ref"), "primary": ("primary", "bool")},
    "demographics": {c: (c, "bool") for c in (
        "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white", "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity")},
    "absence_codes": {"absent": ("absent", "bool"), "excused": ("excused", "bool"),
                      "dayFraction": ("dayFraction", "number")},
    "attendance": {"minutesAbsent": ("minutesAbsent", "number")},
}
_REF_TARGET = {"parentSourcedId": None, "schoolYearSourcedId": "academic_sessions", "orgSourcedId": "orgs",
               "courseSourcedId": "courses", "schoolSourcedId": "orgs", "termSourcedIds": "academic_sessions",
               "orgSourcedIds": "orgs", "agentSourcedIds": "users", "classSourcedId": "classes",
               "userSourcedId": "users"}
MAX_VALUE_CHARS = 10_000


class BindingError(ValueError):
    """A REST record that cannot be read as the contract's columns (message carries no values)."""


def endpoint(version: str, entity: str) -> str:
    return f"{PREFIX[version]}/{ENDPOINTS[entity]}"


def collection_key(entity: str) -> str:
    return ENDPOINTS[entity].rsplit("/", 1)[-1]


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _ref(entity: str, column: str, sourced_id: str, base: str) -> dict[str, str]:
    target = _REF_TARGET.get(column) or entity
    path = ENDPOINTS.get(target, target)
    return {"sourcedId": sourced_id, "type": REF_TYPES.get(target, target),
            "href": f"{base}/{path}/{sourced_id}"}


def _bool_json(text: str, version: str) -> Any:
    value = text.strip().lower()
    if value not in ("true", "false"):
        return text          # passed through as sent; the contract reports it
    return (value == "true") if version == "1.2" else value


def to_json(entity: str, row: dict[str, str], version: str, base: str = "") -> dict[str, Any]:
    """A contract CSV row (strings, blank = absent) as a REST record of ``version``."""
    fields = FIELDS.get(entity, {})
    out: dict[str, Any] = {}
    for column, text in row.items():
        if text is None or text == "":
            continue
        key, kind = fields.get(column, (column, "plain"))
        if kind == "ref":
            out[key] = _ref(entity, column, text, base)
        elif kind == "refs":
            out[key] = [_ref(entity, column, s, base) for s in _split(text)]
        elif kind == "list":
            out[key] = _split(text)
        elif kind == "userIds":
            out[key] = [dict(zip(("type", "identifier"), p.strip("{}").split(":", 1), strict=False))
                        for p in _split(text)]
        elif kind == "bool":
            out[key] = _bool_json(text, version)
        elif kind == "number":
            try:
                out[key] = float(text)
            except ValueError:
                out[key] = text
        else:
            out[key] = text
    if entity == "users" and version == "1.2":
        orgs = out.pop("orgs", [])
        role = out.pop("role", None)
        out["roles"] = [{"roleType": "primary" if i == 0 else "secondary", "role": role, "org": org}
                        for i, org in enumerate(orgs)]
    return out


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BindingError(f"{where}: a number that is not finite")
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise BindingError(f"{where}: a value longer than {MAX_VALUE_CHARS} characters")
        return value
    raise BindingError(f"{where}: expected a string, number or boolean, got {type(value).__name__}")


def _ref_id(value: Any, where: str) -> str:
    if isinstance(value, dict):
        return _text(value.get("sourcedId"), where)
    raise BindingError(f"{where}: expected a GUIDRef object with sourcedId")


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BindingError(f"{where}: expected a list")
    return value


def _users_12(record: dict[str, Any], where: str) -> dict[str, Any]:
    record = dict(record)
    roles = _list(record.pop("roles", None), f"{where}.roles")
    primary = [r for r in roles if isinstance(r, dict) and r.get("roleType") == "primary"] or roles[:1]
    record["role"] = primary[0].get("role") if primary and isinstance(primary[0], dict) else None
    orgs = []
    for r in primary + [r for r in roles if r not in primary]:
        org = r.get("org") if isinstance(r, dict) else None
        if org is not None and org not in orgs:
            orgs.append(org)
    record["orgs"] = orgs
    return record


def to_row(entity: str, record: Any, version: str, where: str) -> dict[str, str]:
    """A REST record as the contract's CSV columns (strings; blank for absent)."""
    if not isinstance(record, dict):
        raise BindingError(f"{where}: a record must be a JSON object")
    if entity == "users" and version == "1.2":
        record = _users_12(record, where)
    fields = FIELDS.get(entity, {})
    row: dict[str, str] = {}
    for column in spec.ONEROSTER_11.entity(entity).column_names:
        key, kind = fields.get(column, (column, "plain"))
        value = record.get(key)
        at = f"{where}.{key}"
        if kind == "ref":
            row[column] = "" if value is None else _ref_id(value, at)
        elif kind == "refs":
            row[column] = ",".join(_ref_id(v, at) for v in _list(value, at))
        elif kind == "list":
            row[column] = ",".join(_text(v, at) for v in _list(value, at))
        elif kind == "userIds":
            row[column] = ",".join(
                "{" + _text(v.get("type"), at) + ":" + _text(v.get("identifier"), at) + "}"
                if isinstance(v, dict)
                else _text(v, at) for v in _list(value, at))
        else:
            row[column] = _text(value, at)
    return row
