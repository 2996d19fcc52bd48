"""Personal data never leaves the data at rest: after the full deployment run (``fleet``: 36 deliveries of
3 customers through the daemon, sensors, a backfill and marts) including a malformed delivery whose bad rows
carry names and birth dates, and after ``kinvolved validate`` on that delivery, no given name, family name,
username, email, phone or birth date the generator wrote appears in the Dagster storage (event logs, run
and schedule storage, compute logs), the daemon/webserver logs, check metadata, reports or CLI output.

Matching rules: names whole-word and case-sensitive; usernames, emails and phones as substrings; birth
dates as the exact string delivered (ISO ``YYYY-MM-DD``, or the malformed delivery's rewritten form), only
dates before 2024-07-01: every date the platform legitimately prints (delivery, attendance, session and
as-of dates, the school year 2025-26) is later, except the delivery partitions' start 2020-01-01, which
is excluded.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import zipfile
import zlib
from pathlib import Path

import pytest
from reliability_support import record_fault

pytestmark = pytest.mark.reliability
LEGIT_DATES = {"2020-01-01"}
WORD = re.compile(r"[A-Za-z]+")                          # a name is a maximal run of letters
TOKEN = re.compile(r"\+?[A-Za-z0-9._%+@-]+")              # usernames, emails, phones
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}")      # birth dates, also inside timestamps


def _personal_values(deliveries: list[Path]) -> tuple[set[str], set[str]]:
    words, strings = set(), set()
    for delivery in deliveries:
        with zipfile.ZipFile(delivery) as z:
            names = z.namelist()
            if "users.csv" in names:
                for row in csv.DictReader(io.StringIO(z.read("users.csv").decode())):
                    words.update(v for v in (row.get("givenName"), row.get("familyName")) if v)
                    strings.update(v for v in (row.get("username"), row.get("email"), row.get("sms"),
                                               row.get("phone")) if v)
            if "demographics.csv" in names:
                for row in csv.DictReader(io.StringIO(z.read("demographics.csv").decode())):
                    born = row.get("birthDate") or ""
                    iso = re.match(r"^\d{4}-\d{2}-\d{2}$", born)
                    if born and (not iso or (born < "2024-07-01" and born not in LEGIT_DATES)):
                        strings.add(born)
    return words, strings


def _sqlite_text(path: Path) -> str:
    parts = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in con.execute(f'select * from "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            value = zlib.decompress(value)
                        except zlib.error:
                            pass
                        value = value.decode("utf-8", errors="replace")
                    parts.append(str(value))
    finally:
        con.close()
    return "\n".join(parts)


def _scan(texts: dict[str, str], words: set[str], strings: set[str]) -> list[tuple[str, str, str]]:
    """Exact-token matching (linear in the text): names as whole words, the rest as whole tokens."""
    hits = []
    for source, text in texts.items():
        for regex, values in ((WORD, words), (TOKEN, strings), (DATE, strings)):
            for match in regex.finditer(text):
                token = match.group(0)
                if token in values or token.rstrip(".") in values:
                    hits.append((source, token, text[max(0, match.start() - 60): match.end() + 60]))
    return hits


def _corpus(fleet) -> dict[str, str]:
    site = fleet["site"]
    texts: dict[str, str] = {}
    for path in site.dagster_home.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".db":
            texts[str(path)] = _sqlite_text(path)
        elif path.suffix not in (".yaml",):
            texts[str(path)] = path.read_text(errors="replace")
    for path in (site.root / "process_logs").glob("*"):
        texts[str(path)] = path.read_text(errors="replace")
    for path in (site.home / "warehouse").glob("*/reports/**/*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    for i, out in enumerate(site.cli_output):
        texts[f"cli output #{i}"] = out
    return texts


def test_no_personal_data_in_logs_metadata_reports_or_cli(fleet):
    gen = fleet["generated"]
    deliveries = [d.path for g in gen.values() for d in g.deliveries] + [fleet["bad_delivery"]]
    words, strings = _personal_values(deliveries)
    assert len(words) > 100 and len(strings) > 1000
    texts = _corpus(fleet)
    assert any("event_log" in k or k.endswith("runs.db") for k in texts), sorted(texts)[:10]
    assert any("/reports/" in k for k in texts) and any(k.startswith("cli output") for k in texts)
    # the malformed delivery really was run: blocked, with findings in its check metadata and report
    assert "blocked by failed checks" in "\n".join(texts.values())
    assert fleet["validate"].returncode == 1 and "row." in fleet["validate"].stdout

    name, email = sorted(words)[0], sorted(s for s in strings if "@" in s)[0]
    canary = _scan({"canary": f"x {name}, y <{email}> z"}, words, strings)
    assert [h[1] for h in canary] == [name, email], "the scanner itself must find planted values"
    hits = _scan(texts, words, strings)
    total = sum(len(t) for t in texts.values())
    assert hits == [], f"{len(hits)} hits, e.g. {hits[:5]}"
    record_fault("personal data scan after the deployment run + malformed delivery + kinvolved validate",
                 f"{len(words)} names, {len(strings)} usernames/emails/phones/birth dates searched in "
                 f"{len(texts)} sources ({total / 1e6:.1f} MB of text): 0 hits")
