"""Structured findings: every problem the reader reports is one of these.

A finding never carries the value of a personal-data column: only counts, line numbers, column
names, sourcedIds and short non-personal values (see ``quote_value``). A file that holds personal
data (an entity with a personal column) may have shifted rows or no header, so any cell or header
value of it is quoted only when proven harmless; otherwise it is described (``safe_value``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES = ("error", "warning", "info")
MAX_QUOTED = 40

# rule id -> (default severity, scope, what it means / what to fix). Rendered in docs/oneroster-plus.md.
RULES: dict[str, tuple[str, str, str]] = {
    # delivery level
    "delivery.not_found": ("error", "delivery",
                       "The path does not exist or is neither a ZIP, a folder nor a CSV file."),
    "delivery.bad_zip": ("error", "delivery", "The ZIP is truncated or corrupt; send the file again."),
    "delivery.bad_member_name": ("error", "delivery",
                             "A ZIP member name is flagged UTF-8 but is not valid UTF-8; re-create the ZIP."),
    "delivery.bad_file_name": ("warning", "delivery",
                           "A file name is not valid UTF-8 (shown escaped); the file is ignored. Rename it."),
    "delivery.too_many_members": ("error", "delivery", "The ZIP has more members than the limit."),
    "delivery.too_large": ("error", "delivery", "Uncompressed size exceeds the limit."),
    "delivery.compression_ratio": ("error", "delivery",
                               "A member or the ZIP is compressed beyond the ratio limit (zip bomb)."),
    "delivery.unsafe_path": ("error", "delivery",
                         "A member has an absolute path or '..' (zip slip); the delivery is refused."),
    "delivery.symlink": ("error", "delivery", "A member is a symbolic link; the delivery is refused."),
    "delivery.encrypted": ("error", "delivery",
                       "An encrypted ZIP member cannot be read; send the ZIP without a password."),
    "delivery.unknown_file": ("warning", "delivery",
                          "A file does not match any OneRoster+ file name; it is ignored."),
    "delivery.ignored_file": ("info", "delivery",
                          "A recognised OneRoster 1.1/1.2 file we do not ingest; it is ignored."),
    "delivery.nested_file": ("warning", "delivery",
                             "A file sits in a sub-folder; put all CSVs at the top level."),
    "delivery.ambiguous_file": ("error", "delivery",
                            "Two files match the same OneRoster+ file; neither is loaded. Send one."),
    "delivery.file_missing": ("info", "delivery",
                          "An expected file is not in the delivery (state of that entity is unchanged)."),
    "delivery.version": ("info", "delivery",
                         "The OneRoster version (1.1 or 1.2) the delivery is read as, and why."),
    "delivery.version_mixed": ("error", "delivery",
                           "The delivery mixes OneRoster 1.1 and 1.2 (manifest, files, users.csv header); "
                           "nothing is loaded."),
    "delivery.version_unsupported": ("error", "delivery",
                                 "manifest oneroster.version is 1.0; export OneRoster 1.1 or 1.2 CSV."),
    "delivery.empty": ("error", "delivery", "The delivery contains no OneRoster+ files."),
    "delivery.wrong_customer": ("error", "delivery",
                            "None of the organisations the delivery names is the customer's (licensed "
                            "schools, orgs delivered before): another district's export; nothing is loaded "
                            "(a warning before the customer's first orgs delivery)."),
    # manifest
    "manifest.unreadable": ("warning", "delivery",
                            "manifest.csv cannot be parsed as propertyName,value; modes are inferred."),
    "manifest.bad_mode": ("warning", "delivery",
                          "A file.<name> value is not bulk, delta or absent; the mode is inferred."),
    "manifest.version": ("warning", "delivery",
                         "oneroster.version is not 1.1 or 1.2; the version is read from the files."),
    "manifest.declared_missing": ("error", "delivery",
                                  "The manifest declares a file bulk/delta but the file is missing."),
    "manifest.declared_absent": ("warning", "file",
                                 "The manifest says absent but the file is present; it is loaded."),
    "manifest.mode_mismatch": ("warning", "file", "Manifest mode disagrees with the data; the data wins."),
    "mode.mixed_status": ("warning", "file",
                          "Some rows have status/dateLastModified and some do not; read as the declared or "
                          "bulk mode."),
    # file level
    "file.empty": ("error", "file", "The file has no bytes (not even a header)."),
    "file.not_csv": ("error", "file", "The file is binary (e.g. a spreadsheet or ZIP), not CSV text."),
    "file.undecodable": ("error", "file", "The file cannot be decoded as text."),
    "file.encoding_fallback": ("warning", "file",
                               "Not valid UTF-8; decoded as Windows-1252/Latin-1. Send UTF-8."),
    "file.encoding_repaired": ("warning", "file",
                               "UTF-8 except some lines; those lines were read as Windows-1252. Check them."),
    "file.header_too_long": ("error", "file",
                             "The header line is longer than the limit (64 KiB); nothing is loaded."),
    "file.record_too_long": ("error", "file", "A line is longer than the limit (10 MB); nothing is loaded."),
    "file.most_rows_rejected": ("error", "file",
                                "More than half of the file's rows were rejected; the delivery is blocked."),
    "file.wrong_delimiter": ("error", "file",
                             "The header is not comma separated (';', tab or '|' found). Use commas."),
    "file.no_rows": ("warning", "file", "The file has a header but no data rows."),
    "file.read_error": ("error", "file",
                        "The CSV could not be parsed at all (quoting broken from the start)."),
    "file.internal_error": ("error", "file",
                            "The file could not be loaded because of an unexpected problem."),
    "header.missing_required_column": ("error", "file", "A required column is missing from the header."),
    "header.duplicate_column": ("error", "file", "A column name appears twice in the header."),
    "header.absent_twice": ("warning", "file",
                            "absenceCodes header has 'absent' twice; the second is read as 'excused'."),
    "header.unknown_column": ("warning", "file",
                              "A column not in the contract (and not metadata.*) is ignored."),
    "header.empty_column_name": ("error", "file", "A header cell is blank."),
    "header.column_case": ("warning", "file", "A column name differs from the contract only by case/spaces."),
    "header.reordered": ("warning", "file", "Columns are not in contract order; matched by name."),
    # row level (the row is quarantined in rejects/)
    "row.malformed": ("error", "row", "The record has the wrong number of fields or broken quoting."),
    "row.required_missing": ("error", "row", "A required value is blank."),
    "row.bad_guid": ("error", "row", "Not a GUID: use [0-9a-zA-Z._-/@], 1-255 characters."),
    "row.bad_date": ("error", "row", "Not a date YYYY-MM-DD."),
    "row.bad_datetime": ("error", "row", "Not an ISO 8601 UTC date-time (YYYY-MM-DDTHH:MM:SS[.fff]Z)."),
    "row.bad_year": ("error", "row", "Not a year YYYY."),
    "row.bad_boolean": ("error", "row", "Not true/false."),
    "row.bad_enum": ("error", "row",
                     "Not one of the allowed values (OneRoster 1.2: nor an ext: value, where the vocabulary "
                     "is extensible)."),
    "row.bad_list": ("error", "row", "A comma list has an invalid element (GUID or enumeration)."),
    "row.bad_number": ("error", "row", "Not a number."),
    "row.out_of_range": ("error", "row",
                         "A number is outside its range (dayFraction 0-1, minutesAbsent >= 0)."),
    "row.date_order": ("error", "row", "startDate/beginDate is after endDate."),
    "row.duplicate_sourced_id": ("error", "row",
                                 "The sourcedId was already used on an earlier line; the later row is "
                                 "rejected."),
    "row.status_inactive": ("warning", "file", "Deprecated status 'inactive' read as 'tobedeleted'."),
    "row.noncanonical_value": ("warning", "file",
                               "Booleans/enumerations in non-canonical case (e.g. TRUE) were normalised."),
    "rows.truncated": ("info", "file",
                       "More rows broke the same rule than are listed; see the count and rejects."),
    "roles.no_primary": ("warning", "file",
                         "OneRoster 1.2: a user in a bulk roles.csv has no primary role; the role rule picks "
                         "one."),
    "roles.several_primary": ("warning", "file",
                              "OneRoster 1.2: a user in a bulk roles.csv has several primary roles; the role "
                              "rule picks one."),
    # the school year (oneroster/school_year.py)
    "session.school_year_relabelled": ("warning", "file",
                                       "The schoolYear session of the configured year carries another label; "
                                       "it is used by its dates."),
    "session.school_year_from_terms": ("warning", "file",
                                       "No schoolYear session for the configured year; its terms/semesters "
                                       "define it."),
    "session.no_school_year": ("error", "file",
                               "No academic session lies mostly inside the configured school year; set "
                               "school_year to the year sent."),
    # cross-file references
    "ref.dangling": ("error", "reference",
                     "A reference points to a sourcedId not in the delivery (warning for a delta target)."),
    "ref.target_absent": ("info", "reference",
                          "The referenced file is not in the delivery; references were not checked."),
}


@dataclass(frozen=True)
class Finding:
    severity: str
    file: str | None
    line: int | None
    column: str | None
    rule: str
    message: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"bad severity {self.severity!r}")
        for name in ("file", "column", "message"):   # names from a delivery may hold escapes or bad bytes
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, printable(str(value)))

    def to_dict(self) -> dict:
        return asdict(self)

def finding(rule: str, message: str, *, file: str | None = None, line: int | None = None,
            column: str | None = None, severity: str | None = None) -> Finding:
    sev = severity or RULES.get(rule, ("error",))[0]
    return Finding(sev, file, line, column, rule, message)


def printable(text: str) -> str:
    """``text`` safe to print: control and format characters (ANSI escapes, line breaks) and bytes that
    were not valid UTF-8 (``surrogateescape``) are shown as ``\\xNN`` / ``\\uNNNN``."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:          # an undecodable byte of a file name
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def quote_value(value: object, *, pii: bool) -> str:
    """A short, printable rendering of a non-personal value; personal values are never rendered."""
    if pii:
        return "(personal data not shown)"
    if value is None:
        return "(blank)"
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > MAX_QUOTED:
        text = text[: MAX_QUOTED - 3] + "..."
    return repr(text)


def describe_value(value: object) -> str:
    """A harmless description of a value that may be personal data: its length and character classes."""
    if value is None:
        return "(blank)"
    text = str(value)
    classes = []
    for name, test in (("upper-case letters", str.isupper), ("lower-case letters", str.islower),
                       ("digits", str.isdigit), ("spaces", str.isspace)):
        if any(test(ch) for ch in text):
            classes.append(name)
    if any(not (ch.isalnum() or ch.isspace()) for ch in text):
        classes.append("punctuation")
    if any(ord(ch) > 127 for ch in text):
        classes.append("non-ASCII")
    return f"(a value of {len(text)} characters: {', '.join(classes) or 'none'}; not shown)"


def safe_value(value: object, *, pii_file: bool, harmless: bool = False) -> str:
    """``value`` quoted only when it cannot be personal data: the file holds none, or the value is
    proven harmless (``harmless``: an enumeration member, a date in a non-personal date column of a
    file whose header is intact); otherwise only its description."""
    if value is None:
        return "(blank)"
    if not pii_file or harmless:
        return quote_value(value, pii=False)
    return describe_value(value)
