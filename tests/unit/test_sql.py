"""The one SQL quoting module: what it writes reads back in DuckDB as the same name or value."""

from __future__ import annotations

import datetime as dt

import duckdb

from kinvolved_assets.sql import ident, literal, string, string_list

HOSTILE = ["plain", "it's", 'say "hi"', "a'); DROP TABLE t; --", "", "ünï cødé", "back\\slash"]


def test_quoted_text_reads_back_unchanged():
    con = duckdb.connect()
    for text in HOSTILE:
        assert con.execute(f"SELECT {string(text)}").fetchone()[0] == text
        assert con.execute(f"SELECT {literal(text)}").fetchone()[0] == text
        if text:   # DuckDB has no empty identifier
            assert con.execute(f"SELECT 1 AS {ident(text)}").description[0][0] == text
    assert con.execute(f"SELECT {string_list(HOSTILE)}").fetchone()[0] == HOSTILE


def test_literal_keeps_the_type():
    con = duckdb.connect()
    values = [None, 7, -2.5, dt.date(2025, 9, 5), "2025-09-05", True]
    got = con.execute("SELECT " + ", ".join(literal(v) for v in values)).fetchone()
    assert got == (None, 7, -2.5, dt.date(2025, 9, 5), "2025-09-05", "True")
    assert ident('a"b') == '"a""b"' and string("it's") == "'it''s'" and string(3) == "'3'"
