"""Wrong customer (issue item 5, delivery-level): another district's export in a customer's landing
folder is blocked as a whole, with a finding naming the file and the fix, in `validate --customer`
and at ingest; nothing already loaded changes. A customer's own deltas (a new school under its
district, an attendance-only night) still load, and a new customer whose first delivery names none
of its licensed schools is warned (its config may be the wrong part)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from kinvolved_assets.customers import CustomerConfig
from kinvolved_assets.delivery.ingest import ingest_delivery
from kinvolved_assets.expectations import expectations_validator
from kinvolved_assets.paths import CustomerPaths
from kinvolved_assets.validate import validate_delivery
from kinvolved_assets.validate_report import to_json, to_text
from tests.unit.corpus.reader_deliveries import VALID, write_delivery

D1, D2, D3 = "2024-03-05", "2024-03-06", "2024-03-07"
VALIDATOR = expectations_validator(engine="duckdb")
# the same shapes with another district's organisation ids (and identifiers)
FOREIGN = {name: re.sub(r"\b([sdSD]1)\b", r"other-\1", text) for name, text in VALID.items()}


def _config(licensed=("s1",)) -> CustomerConfig:
    return CustomerConfig(customer_id="acme", name="Acme", sis="other", timezone="America/New_York",
                          products=["attendance"], school_year=2024, licensed_schools=list(licensed))


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _deliver(paths, config, date, files, base=None, run_id=None):
    write_delivery(paths.landing, files, base=base, name=f"export_{date}")
    return ingest_delivery(config, paths, date, run_id=run_id or f"r-{date}", validators=[VALIDATOR])


def test_another_districts_export_is_blocked_and_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("KINVOLVED_HOME", str(tmp_path))
    config = _config()
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    assert _deliver(paths, config, D1, {}).promoted
    before = _tree(paths.raw)

    # validate --customer says so first, naming the file and the fix, never a value of the delivery
    rep = validate_delivery(write_delivery(tmp_path, {}, base=FOREIGN, name="other_export"), customer=config)
    found = [f for f in rep.findings if f.rule == "delivery.wrong_customer"]
    assert len(found) == 1 and found[0].severity == "error" and found[0].file == "orgs.csv", rep.findings
    assert "licensed_schools in acme.yaml" in found[0].message and "another district" in found[0].message
    assert "other-" not in to_text(rep) + to_json(rep) and not rep.ok

    out = _deliver(paths, config, D2, {}, base=FOREIGN)
    assert not out.promoted
    assert [f.rule for f in out.delivery_findings if f.severity == "error"] == ["delivery.wrong_customer"]
    assert all(not o.checks[0].passed for o in out.entities.values() if o.present)
    assert _tree(paths.raw) == before, "nothing already loaded may change"
    assert not paths.raw_partition("attendance", D2).exists()
    assert (paths.quarantine / D2).is_dir()

    # an attendance-only night of the other district: judged against the orgs delivered before
    out = _deliver(paths, _config(licensed=()), D3, {"attendance.csv": FOREIGN["attendance.csv"]},
                   base={}, run_id="r-foreign-att")
    assert not out.promoted and (out.delivery_findings[-1].rule,
                                 out.delivery_findings[-1].file) == ("delivery.wrong_customer",
                                                                     "attendance.csv")
    assert _tree(paths.raw) == before


def test_own_deltas_and_a_new_customer_still_load(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    paths.landing.mkdir(parents=True)
    # a new customer whose first delivery names none of its licensed schools: the config may be the
    # one that is wrong (the marts' plausibility checks report the empty school), so a warning only
    first = _deliver(paths, _config(licensed=("s1",)), D1, {}, base=FOREIGN)
    assert first.promoted
    assert [(f.rule, f.severity) for f in first.delivery_findings if f.rule == "delivery.wrong_customer"] == [
        ("delivery.wrong_customer", "warning")]
    assert any("licensed_schools in acme.yaml" in n for n in first.notes), first.notes
    # its own delta: a new school (unknown id) under its known district, and its attendance
    orgs = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
            "s9,active,2024-03-06T00:00:00Z,New School,school,S9,other-d1\n")
    out = _deliver(paths, _config(licensed=("s1",)), D2, {"orgs.csv": orgs,
                                                         "attendance.csv": FOREIGN["attendance.csv"]},
                                                         base={})
    assert out.promoted, out.delivery_findings
    assert "delivery.wrong_customer" not in {f.rule for f in out.delivery_findings}
    # a customer without licensed schools nor history: nothing to compare with
    other = CustomerPaths.for_customer("newco", tmp_path)
    other.landing.mkdir(parents=True)
    out = _deliver(other, _config(licensed=()).model_copy(update={"customer_id": "newco"}), D1, {},
                   base=FOREIGN)
    assert out.promoted and "delivery.wrong_customer" not in {f.rule for f in out.delivery_findings}
