"""OneRoster 1.2: the same generated district delivered as a 1.1 and as a 1.2 export (bulk, nightly
deltas with corrections and deletions, transfers, a monthly bulk) gives identical marts, and both
equal the generator's ground truth — through the real sensor → Dagster runs → dbt path."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from dagster import DagsterInstance

from kinvolved_assets.local_runner import process_landing
from kinvolved_assets.marts.reader import content_digest, open_marts
from tests.districts import latest_cumulative

pytestmark = pytest.mark.integration


def _platform(kind, root, monkeypatch):
    """A second, separate KINVOLVED_HOME + config folder (same class as the ``platform`` fixture)."""
    (root / "home").mkdir(parents=True)
    (root / "customer_configs").mkdir()
    monkeypatch.setenv("KINVOLVED_HOME", str(root / "home"))
    monkeypatch.setenv("KINVOLVED_CONFIG_DIR", str(root / "customer_configs"))
    return kind(home=root / "home", config_dir=root / "customer_configs")


def _effective_users(p) -> list[tuple]:
    """Every current user's effective role and orgs (intermediate layer of the published build)."""
    with duckdb.connect(str(p.warehouse("twin") / "marts.duckdb"), read_only=True) as con:
        return con.execute("select user_sourced_id, role, org_sourced_ids from "
                           "intermediate.int_users__merged "
                           "order by all").fetchall()


def _deliver(p, version: str) -> tuple[str, object]:
    # Fri 26 Sep (bulk), Mon-Tue deltas, Wed 1 Oct (monthly bulk), Thu delta
    gen = p.add_customer("twin", scale="small", seed=14, start=dt.date(2025, 9, 26), days=7,
                         oneroster=version)
    assert [d.mode for d in gen.deliveries] == ["bulk", "delta", "delta", "bulk", "delta"]
    with DagsterInstance.ephemeral() as inst:
        report = process_landing(p.definitions(), inst, "twin")
    assert report.ingest_runs and all(ok for *_, ok in report.ingest_runs), report.ingest_runs
    assert report.marts_run and report.marts_run[1]
    marts_db = p.warehouse("twin") / "marts.duckdb"
    with open_marts(marts_db) as marts:
        got, truth = latest_cumulative(marts, p.home, "twin")
    assert truth and got == truth, f"OneRoster {version}: marts differ from the truth"
    return content_digest(marts_db), gen


def test_same_district_as_11_and_12_gives_identical_marts(platform, tmp_path, monkeypatch):
    digest_11, gen_11 = _deliver(platform, "1.1")
    p12 = _platform(type(platform), tmp_path / "v12", monkeypatch)
    digest_12, gen_12 = _deliver(p12, "1.2")
    assert digest_12 == digest_11
    # the users' role and orgs derived from roles.csv (primary wins over the secondary ext:coach) are
    # the 1.1 users.csv ones
    users_11, users_12 = _effective_users(platform), _effective_users(p12)
    assert users_12 == users_11 and {r[1] for r in users_12} == {"student", "teacher", "guardian", "parent"}
    assert gen_12.counts["attendance"] == gen_11.counts["attendance"] and "roles" not in gen_11.counts

    raw = p12.warehouse("twin") / "raw"
    q = duckdb.connect()
    # the 1.2 users carry no role: it came from roles.csv, which landed as its own entity
    cols = {r[0] for r in q.execute(f"describe select * from read_parquet('{raw}/users/**/*.parquet', "
                                    "union_by_name=true)").fetchall()}
    assert "role" not in cols and "primaryOrgSourcedId" in cols
    partitions = sorted(d.name for d in (raw / "roles").iterdir())
    without_roles = sum(1 for d in gen_12.deliveries if "roles" not in d.rows)
    assert len(partitions) == len(gen_12.deliveries) - without_roles
    truth = str(p12.home / "truth" / "twin" / "student_attendance.parquet")
    moved = q.execute("select count(*) from (select student_sourced_id from read_parquet(?) where as_of_date "
                      "= ? group by 1 having count(distinct school_sourced_id) > 1)",
                      [truth, gen_12.deliveries[-1].delivery_date.isoformat()]).fetchone()[0]
    coach = q.execute(f"select count(*) from read_parquet('{raw}/roles/**/*.parquet') where role = "
                      "'ext:coach'").fetchone()[0]
    deleted = q.execute(f"select count(*) from read_parquet('{raw}/attendance/**/*.parquet') "
                        "where status = 'tobedeleted'").fetchone()[0]
    withdrawn = q.execute(f"select count(*) from read_parquet('{raw}/enrollments/**/*.parquet') "
                          "where _mode = 'delta' and endDate is not null").fetchone()[0]
    assert moved > 0 and coach > 0 and deleted > 0 and withdrawn > 0, (moved, coach, deleted, withdrawn)


def test_validate_and_onboard_a_12_delivery(platform, capsys):
    import json

    from kinvolved_assets.cli.main import main
    from kinvolved_assets.generator.generate import generate

    platform.add_customer("newdistrict", generate_deliveries=False, licensed_schools=[])
    gen = generate("newdistrict", "small", 3, dt.date(2025, 8, 25), 1, platform.home.parent / "incoming",
                   school_year=2026, oneroster="1.2")
    delivery = str(gen.deliveries[0].path)
    assert main(["validate", delivery, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    said = [f["message"] for f in report["findings"] if f["rule"] == "delivery.version"]
    assert said and said[0].startswith("read as OneRoster 1.2 because manifest oneroster.version is 1.2")
    assert {f["entity"] for f in report["files"]} >= {"users", "roles"}
    assert all(e["passed"] for e in report["expectations"]), report["expectations"]
    assert main(["onboard", "newdistrict", delivery]) == 0
    out = capsys.readouterr().out
    assert "Schools found (5):" in out and "licensed_schools:" in out and "AE" in out
    raw = platform.warehouse("newdistrict") / "raw"
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith("_")) == ["absence_codes", "orgs"]
