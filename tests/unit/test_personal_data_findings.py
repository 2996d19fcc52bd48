"""Personal data in messages and at rest (issue items 13-15): a file that holds personal data may have
shifted rows or no header, so its cell and header values are quoted only when proven harmless;
markdown from a file is inert; the customer's data tree is private (folders 0700, files 0600)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import rules_for
from kinvolved_assets.expectations.results import RuleResult, failures_markdown
from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text
from tests.unit.corpus.reader_deliveries import VALID, write_delivery

D = "2025-09-02"
NAME, USERNAME, BORN, EMAIL = "Isabella Baker", "nscott1000003", "2014-04-11", "bbrown1000009@mail.example"
USER_COLUMNS = VALID["users.csv"].splitlines()[0].split(",")


def row(columns: list[str], **values) -> str:
    return ",".join(values.get(c, "") for c in columns) + "\n"


def _all_text(rep) -> str:
    return to_text(rep) + to_json(rep) + json.dumps([f.to_dict() for f in rep.findings])


def test_shifted_rows_never_put_personal_values_into_findings(tmp_path):
    """Rows whose values slid into the wrong columns: a username in role, a name in orgSourcedIds,
    a birth date in sex, an email in enabledUser."""
    users = VALID["users.csv"] + "".join([
        row(USER_COLUMNS, sourcedId="u7", enabledUser="true", orgSourcedIds="s1", role=USERNAME, username="x",
            givenName="G", familyName="F"),
        row(USER_COLUMNS, sourcedId="u8", enabledUser="true", orgSourcedIds=f'"{NAME}"', role="student",
            username="x", givenName="G", familyName="F"),
        row(USER_COLUMNS, sourcedId="u9", enabledUser=EMAIL, orgSourcedIds="s1", role="student", username="x",
            givenName="G", familyName="F"),
    ])
    demo_cols = VALID["demographics.csv"].splitlines()[0].split(",")
    demographics = VALID["demographics.csv"] + row(demo_cols, sourcedId="u2", sex=BORN)
    rep = validate_delivery(write_delivery(tmp_path, {"users.csv": users, "demographics.csv": demographics}))
    found = {(f.rule, f.column): f for f in rep.findings if f.rule.startswith("row.")}
    assert set(found) >= {("row.bad_enum", "role"), ("row.bad_list", "orgSourcedIds"),
                          ("row.bad_boolean", "enabledUser"), ("row.bad_enum", "sex")}, sorted(found)
    text = _all_text(rep)
    for value in (NAME, "Isabella", USERNAME, BORN, EMAIL, "bbrown"):
        assert value not in text, value
    assert found[("row.bad_enum",
                  "role")].message.startswith("line 4: role (a value of 13 characters: lower-case letters, "
                                              "digits; not shown)")
    assert found[("row.bad_enum", "sex")].line == 3 and "10 characters" in found[("row.bad_enum",
                                                                                  "sex")].message


def test_headerless_users_file_does_not_quote_its_first_row(tmp_path):
    users = "".join(VALID["users.csv"].splitlines(keepends=True)[1:])   # the header line is missing
    users = users.replace("Zyxwvqpii.user", USERNAME)
    rep = validate_delivery(write_delivery(tmp_path, {"users.csv": users}))
    unknown = [f for f in rep.findings if f.rule == "header.unknown_column"]
    assert unknown and all(f.column.startswith("_column") for f in unknown)
    assert "header.missing_required_column" in {f.rule for f in rep.findings}
    text = _all_text(rep)
    assert USERNAME not in text and "Zyxwvqpii" not in text and "Is the header line missing?" in text


def test_harmless_values_are_still_quoted(tmp_path):
    """A file without personal data quotes as before; a file with some quotes a date-like value of a
    non-personal date column (its header is intact) but describes a name in that column."""
    classes = VALID["classes.csv"] + "k3,,,Bio,09,c1,B1,lecture,,s1,t1,,,\n"
    att_cols = VALID["attendance.csv"].splitlines()[0].split(",")
    attendance = VALID["attendance.csv"] + row(att_cols, sourcedId="a7", schoolSourcedId="s1",
                                               userSourcedId="u1",
                                               date="2024-02-30", absenceCode="AE") + \
        row(att_cols, sourcedId="a8", schoolSourcedId="s1", userSourcedId="u1", date="Baker",
            absenceCode="AE")
    rep = validate_delivery(write_delivery(tmp_path, {"classes.csv": classes, "attendance.csv": attendance}))
    msgs = {f.line: f.message for f in rep.findings if f.rule in ("row.bad_enum", "row.bad_date")}
    assert "'lecture'" in msgs[4]                          # classes holds no personal data
    assert "'2024-02-30'" in msgs[5]                       # a date in attendance.date
    assert "Baker" not in msgs[6] and "5 characters" in msgs[6]


def test_markdown_from_a_file_is_inert():
    rule = next(r for r in rules_for("classes") if r.id == "classes.classType.in_set")
    rr = RuleResult(rule, success=False, unexpected_count=3)
    rr.add_examples([{"_line": 2, "sourcedId": "k1", "value": "<img src=x onerror=alert(1)>"},
                     {"_line": 3, "sourcedId": "k_2", "value": "[click](http://evil.example)"},
                     {"_line": 4, "sourcedId": "k3", "value": "![i](http://x.example/p.png) **b** `c` |x|"}])
    md = failures_markdown([rr])
    cell = md.splitlines()[-1]
    assert "<img" not in md and "&lt;img" in md
    assert "[click]" not in md and "\\[click\\]" in md and "![" not in md and "\\!\\[i\\]" in md
    assert "**" not in cell and "`c`" not in cell and "k\\_2" in cell
    assert cell.count(" | ") == 4 - 1 and cell.startswith("| `classes.classType.in_set` |")


def _modes(root: Path) -> list[tuple[str, str]]:
    wrong = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name, want in [(dirpath, 0o700)] + [(os.path.join(dirpath, f), 0o600) for f in filenames]:
            mode = stat.S_IMODE(os.lstat(name).st_mode)
            if mode != want:
                wrong.append((name, oct(mode)))
    return wrong


def test_customer_data_tree_is_private(tmp_path):
    from kinvolved_assets.expectations import delivery_reporter

    config = CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                            products=["attendance"], school_year=2024)
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    bad_users = VALID["users.csv"] + row(USER_COLUMNS, sourcedId="u9", enabledUser="true", orgSourcedIds="s1",
                                         role="pupil", username="x", givenName="G", familyName="F")
    write_delivery(paths.landing, {"users.csv": bad_users}, name=f"export_{D}")
    write_delivery(paths.landing, {"users.csv": "sourcedId\nu1\n"}, name="export_2025-09-03")   # blocked
    old = os.umask(0o022)
    try:
        assert ingest_delivery(config, paths, D, run_id="r1", reporter=delivery_reporter).promoted
        assert not ingest_delivery(config, paths, "2025-09-03", run_id="r2",
                                   reporter=delivery_reporter).promoted
    finally:
        os.umask(old)
    for sub in ("raw", "rejects", "quarantine", "reports"):
        assert (paths.warehouse / sub).is_dir(), sub
    assert list(paths.rejects.rglob("*.parquet"))
    assert _modes(paths.warehouse) == [] and _modes(paths.archive) == []


def test_engine_messages_never_quote_a_cell(tmp_path):
    """A DuckDB/GX exception quotes the value it failed on (``invalid date field format: "<name>"``):
    check metadata, failures_md, the validate text and the validation report carry the exception's
    type, the rule, the column and the expected shape instead, with both engines."""
    import datetime as dt
    from types import SimpleNamespace

    import duckdb

    from kinvolved_assets.expectations.report import _examples_text
    from kinvolved_assets.expectations.rules import Params
    from kinvolved_assets.expectations.validator import evaluate_entity
    from kinvolved_assets.validate import DeliveryReport

    planted = "Marisabel Ostrowicz <b>"
    parquet = tmp_path / "attendance.parquet"   # a staged file whose date column kept the text (a reader bug)
    duckdb.sql("COPY (SELECT 2::BIGINT AS _line, 'a1' AS sourcedId, 'active' AS status, 's1' AS "
               "schoolSourcedId, "
               f"'u1' AS userSourcedId, '{planted}' AS date, 'AE' AS absenceCode, NULL::VARCHAR AS "
               "classSourcedId, "
               f"10.0 AS minutesAbsent) TO '{parquet}'")
    res = SimpleNamespace(parquet_path=parquet, rows=1, rejected_rows=0, present=True, failed=False,
                          mode="bulk",
                          file_name="attendance.csv")
    for engine in ("duckdb", "gx"):
        check = evaluate_entity("attendance", res, {"attendance": res}, Params(2024, dt.date(2024, 3, 5)),
                                raw_root=None, delivery_date=None, engine=engine)
        assert check.blocking and check.metadata["engine_errors"] > 0, engine
        report = DeliveryReport(path="delivery", sha256="0" * 64, fatal=False,
                            expectations=[{"entity": "attendance", "name": check.name, "passed": False,
                                                        "blocking": True, "description": "",
                                                        "metadata": check.metadata}])
        shown = (json.dumps(check.metadata, default=str) + to_text(report)
                 + "".join(_examples_text(r) for r in check.metadata["results"]))
        assert "Marisabel" not in shown and "Ostrowicz" not in shown and "<b>" not in shown, engine
        assert check.metadata["engine_error"].startswith("ConversionException (the engine's message is not "
                                                         "shown")
        date_rule = next(r for r in check.metadata["results"] if r["rule"]
                         == "attendance.date.in_school_year")
        assert ("column "
                "date" in _examples_text(date_rule) and "2023-07-01 .. "
                                                        "2024-06-30" in _examples_text(date_rule))
