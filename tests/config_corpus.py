"""The customer-config attack corpus, shared by the loader tests (unit) and the CLI/Dagster tests
(reliability): hostile files next to two valid customers, good and pii, each with the words its one
error line must hold."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from kinvolved_assets.customers import MAX_CONFIG_BYTES
from kinvolved_assets.generator.config import suggested_config


def valid(stem: str, **changes) -> dict:
    return {**suggested_config(stem, "tiny", 7, 2026), **changes}


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def write_corpus(folder: Path, with_valid: bool = True) -> dict[str, tuple[str, ...]]:
    """Writes the corpus next to two valid customers; returns file name -> words its one error holds."""
    def put(name: str, text: str | bytes) -> None:
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())

    if with_valid:
        put("good.yaml", dump(valid("good")))
        put("pii.yaml", dump(valid("pii")))
    cases = {
        "bad_date.yaml": (dump(valid("bad_date")).replace("district:\n", "district:\n  - 2025-13-01\n"),
                          ("non_instructional_days.district[0]", "'2025-13-01'", "YYYY-MM-DD")),
        "bad_tz.yaml": (dump(valid("bad_tz", timezone="America")), ("timezone", "'America'", "IANA")),
        "deep.yaml": ("customer_id: deep\nx: " + "[" * 100_000 + "]" * 100_000 + "\n",
                      ("line 2", "nested deeper")),
        "slug_nl.yaml": (dump(valid("slug_nl", customer_id="pii\n")), ("customer_id", "'pii\\n'", "slug")),
        "slug_utf.yaml": (dump(valid("slug_utf", customer_id="pïi")), ("customer_id", "slug", "ASCII")),
        "evil.yaml": (dump(valid("evil", landing="landing/pii")),
                      ("landing", "customer pii's landing folder")),
        "thief.yaml": (dump(valid("thief", landing="archive/pii")), ("landing", "customer pii's archive")),
        "wide.yaml": (dump(valid("wide", landing=".")), ("landing", "contains the platform folder")),
        "year26.yaml": (dump(valid("year26", school_year=26)),
                        ("school_year", "26 is not a school year", "e.g. 2027 for 2026-27")),
        "wrong_type.yaml": (dump(valid("wrong_type", products="attendance")), ("products", "must be a list")),
        "bool_year.yaml": (dump(valid("bool_year", school_year=True)), ("school_year", "integer", "2026-27")),
        "unknown.yaml": (dump(valid("unknown", schol_year=2026)),
                         ("schol_year", "unknown key", "'school_year'")),
        "dup.yaml": (dump(valid("dup")) + "school_year: 2027\n", ("line", "duplicate key 'school_year'")),
        "empty.yaml": ("", ("(file)", "empty")),
        "comments.yaml": ("# nothing here\n", ("(top level)", "mapping")),
        "binary.yaml": (bytes(range(256)) * 8, ("(file)", "NUL")),
        "latin1.yaml": (dump(valid("latin1")).replace("Latin1 Unified", "Müller").encode("latin-1"),
                        ("(file)", "UTF-8")),
        "big.yaml": ("x: " + "a" * (10 * 1024 * 1024), ("(file)", "bytes", str(MAX_CONFIG_BYTES))),
        "alias.yaml": ("customer_id: alias\na: &a [x]\nb: *a\n", ("line 2", "anchors")),
        "tag.yaml": ("customer_id: tag\nx: !!python/object:os.system ls\n", ("line 2", "tag", "not allowed")),
        "history.yaml": (dump(valid("history", history_from_school_year=2027)),
                         ("history_from_school_year", "later than school_year")),
        "name_nl.yaml": (dump(valid("name_nl", name="Line\nBreak")), ("name", "one line")),
        "cron.yaml": (dump(valid("cron", schedule={"daily": "0 ٥ * * *"})), ("schedule.daily", "ASCII")),
        "feb31.yaml": (dump(valid("feb31", schedule={"monthly": "0 5 31 2 *"})),
                       ("schedule.monthly", "refused by the scheduler")),
        "twin.yaml": (dump(valid("twin")), ("customer_id", "also configured in twin.yml")),
        "twin.yml": (dump(valid("twin")), ("customer_id", "also configured in twin.yaml")),
        "same_a.yaml": (dump(valid("same_a", landing="sftp/shared")),
                        ("landing", "same folder as same_b.yaml")),
        "same_b.yaml": (dump(valid("same_b", landing="sftp/shared")),
                        ("landing", "same folder as same_a.yaml")),
        "nest_a.yaml": (dump(valid("nest_a", landing="sftp/n")), ("landing", "holding that of nest_b.yaml")),
        "nest_b.yaml": (dump(valid("nest_b", landing="sftp/n/inner")),
                        ("landing", "inside that of nest_a.yaml")),
    }
    for name, (text, _) in cases.items():
        put(name, text)
    os.mkfifo(folder / "zz.yaml")                                    # reading it would block forever
    (folder / "link.yaml").symlink_to("/etc/passwd")
    (folder / "folder.yaml").mkdir()
    words = {name: w for name, (_, w) in cases.items()}
    words.update({"zz.yaml": ("(file)", "FIFO"), "link.yaml": ("(file)", "symlink"),
                  "folder.yaml": ("(file)", "folder")})
    return words
