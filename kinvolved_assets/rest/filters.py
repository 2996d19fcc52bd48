"""The OneRoster REST ``filter`` parameter: ``field op 'value'`` predicates joined by `` AND ``.

Operators ``= != > >= < <= ~`` (``~`` = contains). ``dateLastModified`` compares as a UTC instant,
other fields as text (``date`` is ISO YYYY-MM-DD, so text order is date order). Used by the local
provider; the pull client writes the same syntax.
"""

from __future__ import annotations

import re

from kinvolved_assets.rest.district import parse_ts

_PREDICATE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]{0,63})\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'\s*$")
MAX_FILTER_CHARS = 1000


class FilterError(ValueError):
    pass


def parse_filter(text: str | None):
    """A predicate over a record (dict of strings); raises FilterError on what it does not support."""
    if not text:
        return lambda row: True
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"filter longer than {MAX_FILTER_CHARS} characters")
    parts = [p for p in re.split(r"\s+AND\s+", text) if p.strip()]
    tests = []
    for part in parts:
        match = _PREDICATE.match(part)
        if not match:
            raise FilterError("filter must be field op 'value' predicates joined by AND")
        field, op, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        tests.append(_test(field, op, value))
    return lambda row: all(t(row) for t in tests)


def _test(field: str, op: str, value: str):
    if field == "dateLastModified":
        try:
            pivot = parse_ts(value)
        except ValueError:
            raise FilterError("dateLastModified must be compared with an ISO 8601 instant") from None

        def key(row):
            text = row.get(field) or ""
            return parse_ts(text) if text else None
    else:
        pivot = value

        def key(row):
            return row.get(field) or ""
    compare = {
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        "~": lambda a, b: str(b) in str(a),
    }[op]

    def test(row) -> bool:
        got = key(row)
        return got is not None and compare(got, pivot)
    return test


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
