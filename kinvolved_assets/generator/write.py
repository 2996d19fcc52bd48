"""Write the rendered files: CSV bytes in memory for small files, DuckDB ``COPY ... TO`` (RFC 4180,
quoting only when needed) for large ones, the quirks of a messy SIS export, the manifest, and each
file's name in the delivery."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from kinvolved_assets.oneroster import spec
from kinvolved_assets.sql import string

FILE_ORDER = ("manifest", "orgs", "academic_sessions", "courses", "classes", "users", "roles", "enrollments",
              "demographics", "absence_codes", "attendance")


def member_name(entity: str, delivery_index: int, delivery: dt.date, quirks: bool) -> str:
    if entity == "manifest":
        return spec.MANIFEST_FILE
    stem = spec.entity(entity).file_stem
    if not quirks:
        return f"{stem}.csv"
    i = delivery_index
    if entity == "users":
        return ("Users.csv", f"users_{delivery:%Y%m%d}.csv", "users.csv")[i % 3]
    if entity == "attendance" and i % 2 == 1:
        return f"attendance_{1000 + i}.csv"
    if entity == "academic_sessions" and i % 2 == 0:
        return "academic_sessions.csv"
    return f"{stem}.csv"


SMALL_ROWS = 100_000     # files up to this many rows are formatted in memory; larger ones by DuckDB COPY
Content = bytes | Path


class DeliveryWriter:
    def __init__(self, quirks: bool, threads: int = 2):
        self.quirks = quirks
        self.con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})

    def close(self) -> None:
        self.con.close()

    def render(self, sql: str, table: pa.Table, spill: Callable[[], Path]) -> tuple[int, Content]:
        """The CSV of ``sql`` over ``t`` = ``table``: bytes when small, else a file from ``spill()``."""
        self.con.register("t", table)
        try:
            if table.num_rows <= SMALL_ROWS:
                cur = self.con.execute(sql)
                header = [d[0] for d in cur.description]
                return table.num_rows, self._csv_bytes(header, cur.fetchall())
            path = spill()
            opts = "HEADER true, DELIMITER ','" + (", FORCE_QUOTE *" if self.quirks else "")
            self.con.execute(f"COPY ({sql}) TO {string(str(path))} (FORMAT csv, {opts})")
            if self.quirks:
                _quirk_file(path)
            return table.num_rows, path
        finally:
            self.con.unregister("t")

    def render_rows(self, table: pa.Table, spill: Callable[[], Path]) -> tuple[int, Content]:
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        return self.render(f"SELECT {cols} FROM t", table, spill)

    def _csv_bytes(self, header: list[str], rows: list[tuple]) -> bytes:
        if self.quirks:
            def q(v):
                return "" if v is None else '"' + str(v).replace('"', '""') + '"'
            lines = [",".join(q(v) for v in header)] + [",".join(q(v) for v in r) for r in rows]
            return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue().encode("utf-8")

    def manifest(self, modes: dict[str, str], contract: spec.Contract = spec.ONEROSTER_11) -> bytes:
        lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{contract.version}",
                 "source.systemName,Kinvolved Synthetic SIS"]
        for e in contract.entities:
            lines.append(f"file.{e.file_stem},{modes.get(e.name, 'absent')}")
        if contract.version == "1.2":
            lines += [f"file.{n},absent" for n in spec.IGNORED_ONEROSTER_12_FILES]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        if self.quirks:
            data = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
        return data


def _quirk_file(path: Path) -> None:
    tmp = path.with_suffix(".crlf")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(b"\xef\xbb\xbf")
        while chunk := src.read(8 << 20):
            dst.write(chunk.replace(b"\n", b"\r\n"))
    tmp.replace(path)
