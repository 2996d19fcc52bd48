"""SQL quoting, the one place that spells it (DuckDB dialect). Stdlib only: the OneRoster+ contract
uses it too.

    f"SELECT {ident(column)} FROM read_parquet({string(path)}) WHERE x = {literal(value)}"
"""

from __future__ import annotations


def ident(name: str) -> str:
    """A quoted identifier (column or table name): ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def string(text: str) -> str:
    """A string literal: ``'it''s'``."""
    return "'" + str(text).replace("'", "''") + "'"


def literal(value) -> str:
    """A typed literal: NULL, a number as itself, a date as ``DATE '...'``, anything else a string."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if hasattr(value, "isoformat"):
        return f"DATE '{value.isoformat()}'"
    return string(value)


def string_list(values) -> str:
    """A list literal of strings: ``['a', 'b']``."""
    return "[" + ", ".join(string(v) for v in values) + "]"
