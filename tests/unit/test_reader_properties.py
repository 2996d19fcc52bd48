"""Property-based: arbitrary bytes as a CSV never crash the reader and never leak values."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinvolved_assets.oneroster import spec
from kinvolved_assets.oneroster.discover import DeliveryFile, DeliveryLimits
from kinvolved_assets.oneroster.findings import RULES, SEVERITIES
from kinvolved_assets.oneroster.load import load_file
from kinvolved_assets.validate import validate_delivery
from tests.unit.corpus.reader_deliveries import VALID

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

ATT_HEAD = VALID["attendance.csv"].splitlines()[0].encode()
csv_tokens = st.lists(st.sampled_from([b",", b'"', b"\n", b"\r\n", b"\r", b"a", b"2024-03-01",
                                       b"\xef\xbb\xbf", b"\xe9",
                                       b"\x00", b"true", b"s1", b";", b" ", b"\xff\xfe", b"PK\x03\x04",
                                       b"metadata.x"]),
                      max_size=60).map(b"".join)


def _check(findings):
    for f in findings:
        assert f.severity in SEVERITIES
        assert f.rule in RULES, f.rule
        assert isinstance(f.message, str)


def _load(tmp_path: Path, data: bytes):
    p = tmp_path / "attendance.csv"
    p.write_bytes(data)
    df = DeliveryFile("attendance", "attendance.csv", p, len(data), "0" * 64, None)
    out = tmp_path / "wh"
    res = load_file(spec.ATTENDANCE, df, out, "2024-03-05", DeliveryLimits(threads=1))
    _check(res.findings)
    assert not any(f.rule == "file.internal_error" for f in res.findings), res.findings
    if not res.failed:
        assert res.parquet_path is not None and Path(res.parquet_path).exists()
    return res


@SETTINGS
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(tmp_path_factory, data):
    _load(tmp_path_factory.mktemp("b"), data)


@SETTINGS
@given(body=csv_tokens)
def test_csvish_bytes_after_a_valid_header_never_crash(tmp_path_factory, body):
    res = _load(tmp_path_factory.mktemp("c"), ATT_HEAD + b"\n" + body)
    assert res.failed is False or res.findings


@settings(max_examples=15, deadline=None)
@given(name=st.text(min_size=1,
                    max_size=30).filter(lambda s: "/" not in s and "\x00" not in s and s not in (".", "..")),
       data=st.binary(max_size=200))
def test_arbitrary_file_names_in_a_delivery(tmp_path_factory, name, data):
    folder = tmp_path_factory.mktemp("d")
    try:
        (folder / name).write_bytes(data)
    except OSError:
        return
    rep = validate_delivery(folder)
    _check(rep.findings)


DATETIME_EXAMPLES = [
    "2024-03-01T12:00:00Z", "2024-03-01T12:00:00.123Z", "2024-03-01T12:00:00.1234567Z", "2024-03-01T12:00Z",
    "2024-03-01T12:00:00+05:00", "2024-03-01T12:00:00-0800", "2024-03-01T12:00:00+05:00Z",
    "2024-03-01T12:00:00 Z",
    "2024-03-01 12:00:00", "2024-03-01", "2024-02-30T12:00:00Z", "2024-03-01T25:00:00Z",
    "2024-03-01T12:00:00 UTC",
    "2024-03-01T12:00:00 America/New_York", "2024-03-01T12:00:00\tZ", "-2024-03-01T12:00:00Z", "2024-03-01TZ",
    "Z",
]


def _datetime_casts(values: list[str]) -> list[tuple]:
    import duckdb

    from kinvolved_assets.oneroster.column_sql import datetime_utc

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(f"SELECT v, CAST(TRY_CAST(v AS TIMESTAMPTZ) AS TIMESTAMP), {datetime_utc('v')} FROM "
                       "(SELECT unnest(?::VARCHAR[]) AS v)",
                       [values]).fetchall()
    con.close()
    return rows


def test_datetime_fast_path_matches_the_time_zone_aware_cast_on_known_shapes():
    rows = _datetime_casts(DATETIME_EXAMPLES)
    assert [r for r in rows if r[1] != r[2]] == []
    by_value = {v: fast for v, _, fast in rows}
    assert str(by_value["2024-03-01T12:00:00+05:00"]) == "2024-03-01 07:00:00"   # the offset is applied
    assert by_value["2024-02-30T12:00:00Z"] is None


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.text(alphabet="0123456789-:T.Z+ \tzU",
                                         max_size=30).map(lambda s: "2024-03-01T" + s),
                                 st.text(alphabet="0123456789-:T.Z+ ", max_size=30)), min_size=1,
                                 max_size=20))
def test_datetime_fast_path_matches_the_time_zone_aware_cast(values):
    assert [r for r in _datetime_casts(values) if r[1] != r[2]] == []
