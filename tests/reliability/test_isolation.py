"""Isolation: two customers with colliding sourcedIds and school names (run by the real deployment in
the ``fleet`` fixture); every mart and report of one contains nothing of the other. Customer ids and
landing paths that try to leave their folder are rejected when the config is loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from reliability_support import record_fault

from kinvolved_assets.customers import load_customer_configs
from kinvolved_assets.generator.config import suggested_config
from kinvolved_assets.marts.reader import MART_TABLES, open_marts
from tests.districts import latest_cumulative

pytestmark = pytest.mark.reliability


def _students(site, customer: str) -> set[tuple[str, str]]:
    """(sourcedId, given name) of every student the generator wrote for a customer."""
    import csv
    import io
    import zipfile

    out = set()
    for delivery in site.generated[customer].deliveries:
        with zipfile.ZipFile(delivery.path) as z:
            if "users.csv" in z.namelist():
                for row in csv.DictReader(io.StringIO(z.read("users.csv").decode())):
                    if row["role"] == "student":
                        out.add((row["sourcedId"], row["givenName"]))
    return out


def test_colliding_customers_share_nothing(fleet):
    site = fleet["site"]
    marts = {c: open_marts(site.marts(c)) for c in ("alpha", "beta")}
    try:
        schools = {c: con.execute("select school_sourced_id, name from dim_schools").fetchall()
                   for c, con in marts.items()}
        assert schools["alpha"] == schools["beta"], "the setup must make sourcedIds and school names collide"
        ids = {c: {s for s, _ in _students(site, c)} for c in ("alpha", "beta")}
        assert ids["alpha"] & ids["beta"], "student sourcedIds collide across the two customers"
        for customer, other in (("alpha", "beta"), ("beta", "alpha")):
            con = marts[customer]
            # every view/table reads only its own customer's folder
            sql = " ".join(r[0] or "" for r in con.execute(
                "select sql from duckdb_views() where not internal union all "
                "select sql from duckdb_tables()").fetchall())
            assert f"/warehouse/{other}/" not in sql and f"/{other}/" not in sql
            # the customer's marts equal its own ground truth, so no row of the other got in
            got, truth = latest_cumulative(con, site.home, customer)
            assert got == truth, customer
            dump = "\n".join(repr(con.execute(f"select * from {t}").fetchall()) for t in MART_TABLES)
            assert other not in dump and f"{other}.k12" not in dump
            reports = site.warehouse(customer) / "reports"
            texts = [p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()]
            assert texts, f"{customer} has validation reports"
            assert not any(f"/{other}/" in t or f"warehouse/{other}" in t or f"{other}_2025" in t for t
                           in texts)
        assert marts["alpha"].execute("select sum(days_absent) from "
                                      "msr_student_cumulative_attendance").fetchone() \
            != marts["beta"].execute("select sum(days_absent) from "
                                     "msr_student_cumulative_attendance").fetchone()
    finally:
        for con in marts.values():
            con.close()
    record_fault("two customers with identical sourcedIds and school name, run in parallel",
                 "each customer's marts equal its own ground truth; no view/table reads the other's folder; "
                 "no report mentions the other's folder or deliveries")


@pytest.mark.parametrize("case",
                         ["dotdot_landing", "absolute_landing", "symlink_landing", "dotdot_customer_id",
                                  "absolute_customer_id", "symlink_config_file"])
def test_paths_escaping_their_folder_are_rejected_at_config_load(tmp_path, case):
    home = tmp_path / "home"
    configs = tmp_path / "configs"
    outside = tmp_path / "elsewhere"
    for folder in (home, configs, outside):
        folder.mkdir()
    good = suggested_config("good", "tiny", 7, 2026)
    (configs / "good.yaml").write_text(yaml.safe_dump(good))
    bad = suggested_config("evil", "tiny", 7, 2026)
    name = "evil.yaml"
    if case == "dotdot_landing":
        bad["landing"] = "landing/../../elsewhere"
    elif case == "absolute_landing":
        bad["landing"] = str(outside)
    elif case == "symlink_landing":
        (home / "landing").mkdir()
        os.symlink(outside, home / "landing" / "evil_link")
        bad["landing"] = "landing/evil_link"
    elif case == "dotdot_customer_id":
        bad["customer_id"] = "../evil"
    elif case == "absolute_customer_id":
        bad["customer_id"] = "/tmp/evil"
    target = configs / name
    if case == "symlink_config_file":
        real = outside / "evil.yaml"
        real.write_text(yaml.safe_dump(bad))
        os.symlink(real, target)
    else:
        target.write_text(yaml.safe_dump(bad))
    saved = os.environ.get("KINVOLVED_HOME")
    os.environ["KINVOLVED_HOME"] = str(home)
    try:
        loaded = load_customer_configs(configs)
    finally:
        if saved is None:
            os.environ.pop("KINVOLVED_HOME")
        else:
            os.environ["KINVOLVED_HOME"] = saved
    assert sorted(loaded.customers) == ["good"], (case, loaded)
    assert len(loaded.errors) == 1 and loaded.errors[0].file == name, loaded.errors
    record_fault(f"config with {case.replace('_', ' ')}", f"rejected at load: {loaded.errors[0]}")
    assert Path(configs / "good.yaml").exists()

