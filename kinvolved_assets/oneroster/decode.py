"""Decoding and header parsing of one CSV file (before DuckDB reads the data).

The header is parsed with Python's csv module (RFC 4180: quoted headers, CRLF or LF). The data
itself is parsed by DuckDB. UTF-8 (with or without BOM) is read directly; a file that is not valid
UTF-8 is transcoded once to a UTF-8 temp file line by line: a line that is valid UTF-8 is kept, any
other line is read as Windows-1252 (bytes undefined in 1252 as Latin-1). Which lines needed that is
the evidence: none valid non-ASCII UTF-8 -> the file is Windows-1252; some -> a UTF-8 file with a few
bad lines, named in the finding.

Limits, checked before DuckDB reads the file: the header line at most ``HEAD_BYTES`` (64 KiB), any
line at most ``MAX_LINE_BYTES`` (10 MB, DuckDB's ``max_line_size``, beyond which it may discard a
record silently).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from .findings import Finding, finding

HEAD_BYTES = 1 << 16
MAX_LINE_BYTES = 10_000_000
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


@dataclass
class Transcoded:
    bad_lines: list[int] = field(default_factory=list)   # the first lines read as Windows-1252
    n_bad: int = 0
    utf8_non_ascii: bool = False                          # some other line is non-ASCII valid UTF-8

    @property
    def mixed(self) -> bool:
        return self.utf8_non_ascii and self.n_bad > 0


def decode_lines(data: bytes, first_line: int = 1, stats: Transcoded | None = None) -> str:
    """``data`` (whole lines) as text: UTF-8 where a line is valid UTF-8, Windows-1252 elsewhere."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if stats is not None and not data.isascii():
            stats.utf8_non_ascii = True
        return text
    out = []
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if i < len(lines) - 1:
            line += b"\n"
        try:
            out.append(line.decode("utf-8"))
            if stats is not None and not line.isascii():
                stats.utf8_non_ascii = True
        except UnicodeDecodeError:
            out.append(decode_fallback(line))
            if stats is not None:
                stats.n_bad += 1
                if len(stats.bad_lines) < 20:
                    stats.bad_lines.append(first_line + i)
    return "".join(out)


def scan_lines(path: Path, max_line: int = MAX_LINE_BYTES) -> tuple[int, int | None]:
    """(physical lines, the first line longer than ``max_line`` bytes or None); stops at that line."""
    n = 0
    run = 0      # bytes since the last line break
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            first = chunk.find(b"\n")
            if first < 0:
                run += len(chunk)
                if run > max_line:
                    return n, n + 1
                continue
            if run + first > max_line:
                return n, n + 1
            count = chunk.count(b"\n")
            if count > 1 and len(chunk) > max_line:   # a long line between two breaks of this chunk
                at = first
                for k in range(1, count):
                    nxt = chunk.find(b"\n", at + 1)
                    if nxt - at - 1 > max_line:
                        return n + k, n + k + 1
                    at = nxt
            n += count
            run = len(chunk) - chunk.rfind(b"\n") - 1
    if run:
        n += 1
    return n, None


def read_header(path: Path, member: str) -> tuple[Header | None, list[Finding]]:
    """Parse the header; None plus file-level findings when the file cannot be read as CSV."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head or not head.strip(b"\r\n\t \xef\xbb\xbf"):
        return None, [finding("file.empty", "the file is empty; send at least the header line.", file=member)]
    if head.startswith(BINARY_SIGNATURES) or b"\x00" in head[:8192]:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, [finding("file.undecodable", "the file is UTF-16; save it as UTF-8 CSV.",
                                  file=member)]
        return None, [finding("file.not_csv",
                              "the file is binary (a spreadsheet, ZIP or similar), not CSV text; export it "
                              "as CSV.", file=member)]
    if len(head) >= HEAD_BYTES and b"\n" not in head and b"\r" not in head:
        return None, [finding("file.header_too_long",
                              f"the header line is longer than {HEAD_BYTES:,} bytes, the limit; nothing was "
                              "loaded. Send the header on the first line.", file=member, line=1)]
    hdr = Header()
    data = head
    if data.startswith(BOM):
        hdr.bom = True
        data = data[3:]
    # decode only whole lines of the head (the cut may split a multi-byte character)
    cut = data.rfind(b"\n")
    sample = data if cut < 0 or len(head) < HEAD_BYTES else data[: cut + 1]
    stats = Transcoded()
    text = decode_lines(sample, stats=stats)
    if stats.n_bad:
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
        return None, [finding("file.read_error",
                              "the header line cannot be parsed as CSV (check the quotes).", file=member,
                              line=1)]
    names = [n.strip().strip("\ufeff") for n in names]
    if len(names) == 1 and any(d in names[0] for d in (";", "\t", "|")):
        return None, [finding("file.wrong_delimiter",
                              "the header is not comma-separated (';', tab or '|' found); use ',' as the "
                              "delimiter.", file=member, line=1)]
    hdr.names = names
    return hdr, []


def transcode_to_utf8(src: Path, dst: Path) -> Transcoded:
    """Write a UTF-8 copy of a file that is not all valid UTF-8 (streamed, whole lines at a time):
    lines that are valid UTF-8 as they are, the others read as Windows-1252/Latin-1."""
    stats = Transcoded()
    line = 1
    carry = b""
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        first = True
        while True:
            chunk = fin.read(1 << 22)
            if first and chunk.startswith(BOM):
                chunk = chunk[3:]
            first = False
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, carry = data[:cut], data[cut:]
            if block:
                fout.write(decode_lines(block, line, stats))
                line += block.count(b"\n")
            if not chunk:
                break
    return stats
