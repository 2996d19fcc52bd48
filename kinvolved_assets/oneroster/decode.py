"""Decoding and header parsing of one CSV file (before DuckDB reads the data).

The header is parsed with Python's csv module (RFC 4180: quoted headers, CRLF or LF). The data
itself is parsed by DuckDB. UTF-8 (with or without BOM) is read directly; a file that is not valid
UTF-8 is transcoded once to a UTF-8 temp file from Windows-1252 (bytes undefined in 1252 as Latin-1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from .findings import Finding, finding

HEAD_BYTES = 1 << 16
BOM = b"\xef\xbb\xbf"
BINARY_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b", b"\x89PNG")


@dataclass
class Header:
    names: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    bom: bool = False
    header_lines: int = 1
    sample: list[list[str]] = field(default_factory=list)   # first data records (from the first 64 KiB)


def _cp1252(data: bytes) -> str:
    out = []
    for b in data:
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(b))
    return "".join(out)


def decode_fallback(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return _cp1252(data)


def read_header(path: Path, member: str) -> tuple[Header | None, list[Finding]]:
    """Parse the header; None plus file-level findings when the file cannot be read as CSV."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head or not head.strip(b"\r\n\t \xef\xbb\xbf"):
        return None, [finding("file.empty", "the file is empty; send at least the header line.", file=member)]
    if head.startswith(BINARY_SIGNATURES) or b"\x00" in head[:8192]:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, [finding("file.undecodable", "the file is UTF-16; save it as UTF-8 CSV.", file=member)]
        return None, [finding("file.not_csv", "the file is binary (a spreadsheet, ZIP or similar), not CSV text; export it as CSV.", file=member)]
    hdr = Header()
    data = head
    if data.startswith(BOM):
        hdr.bom = True
        data = data[3:]
    # decode only whole lines of the head (the cut may split a multi-byte character)
    cut = data.rfind(b"\n")
    sample = data if cut < 0 or len(head) < HEAD_BYTES else data[: cut + 1]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = decode_fallback(sample)
        hdr.encoding = "cp1252"
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=False)
        names = next(reader, [])
        hdr.header_lines = reader.line_num or 1
        try:
            for row in reader:
                if row:
                    hdr.sample.append(row)
                if len(hdr.sample) >= 500:
                    break
        except csv.Error:
            pass
        if len(head) >= HEAD_BYTES and hdr.sample:
            hdr.sample.pop()   # the last one may be cut
    except csv.Error:
        return None, [finding("file.read_error", "the header line cannot be parsed as CSV (check the quotes).", file=member, line=1)]
    names = [n.strip().strip("\ufeff") for n in names]
    if len(names) == 1 and any(d in names[0] for d in (";", "\t", "|")):
        return None, [finding("file.wrong_delimiter", "the header is not comma-separated (';', tab or '|' found); use ',' as the delimiter.", file=member, line=1)]
    hdr.names = names
    return hdr, []


def transcode_to_utf8(src: Path, dst: Path) -> None:
    """Write a UTF-8 copy of a Windows-1252/Latin-1 file (streamed, line-safe since 1252 is single-byte)."""
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        first = True
        while True:
            chunk = fin.read(1 << 22)
            if not chunk:
                break
            if first and chunk.startswith(BOM):
                chunk = chunk[3:]
            first = False
            fout.write(decode_fallback(chunk))
