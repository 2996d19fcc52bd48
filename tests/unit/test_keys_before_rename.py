"""Records written before "delivery" became the one word for what a district sends stay readable: a
validation report with the old keys is rendered (and re-recorded) under the new ones, and the sensor
still finds a queued run by the sha256 tag it was requested with."""

from __future__ import annotations

import json

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.utils import make_new_run_id

from kinvolved_assets.defs.sensors import DELIVERY_SHA_TAG_BEFORE_RENAME, active_runs
from kinvolved_assets.delivery.ledger import Delivery
from kinvolved_assets.expectations.report import KEYS_BEFORE_RENAME, current_keys, render_html
from kinvolved_assets.marts.plausibility import PlausibilityResult
from kinvolved_assets.marts.plausibility_report import record_in_latest_report
from kinvolved_assets.paths import CustomerPaths

SHA = "ab" * 32


def _old_report() -> dict:
    old = dict(zip(KEYS_BEFORE_RENAME, ("acme_20250902.zip", SHA, [
        {"severity": "warning", "rule": "r.one", "file": "users.csv", "message": "m"}]), strict=True))
    return {"customer": "acme", "delivery_date": "2025-09-02", "promoted": True, "blocking": "",
            "seconds": 1.0, "generated_at": "2025-09-02T00:00:00Z", "run_id": "r-1", "entities": [], **old}


def test_a_report_written_before_the_rename_renders_under_the_new_keys(tmp_path):
    data = _old_report()
    assert set(current_keys(data)) >= {"delivery_file", "delivery_sha256", "delivery_findings"}
    html = render_html(data)
    assert "acme_20250902.zip" in html and SHA in html and "r.one" in html
    folder = tmp_path / "reports" / "2025-09-02"
    folder.mkdir(parents=True)
    (folder / "validation.json").write_text(json.dumps(data))
    record_in_latest_report(tmp_path / "reports", "marts-run",
                            [PlausibilityResult("daily_fact_not_empty", True, "ok")])
    again = json.loads((folder / "validation.json").read_text())
    assert again["delivery_file"] == "acme_20250902.zip" and not set(KEYS_BEFORE_RENAME) & set(again)
    assert "acme_20250902.zip" in (folder / "validation.html").read_text()


def test_a_queued_run_tagged_before_the_rename_is_still_active(tmp_path):
    paths = CustomerPaths.for_customer("acme", tmp_path)
    delivery = Delivery(seq=1, sha256=SHA, file_name="acme_20250902.zip", delivery_date="2025-09-02",
                        date_source="name", arrived_at="2025-09-02T00:00:00+00:00", state="landed",
                        run_id=None, pid=None, attempts=0, rows=None, errors=None, warnings=None, note=None,
                        updated_at="2025-09-02T00:00:00+00:00")
    with DagsterInstance.ephemeral() as instance:
        is_active = active_runs(instance, paths)
        assert not is_active(delivery)
        instance.add_run(DagsterRun(job_name="ingest_delivery", run_id=make_new_run_id(),
                                    tags={DELIVERY_SHA_TAG_BEFORE_RENAME: SHA},
                                    status=DagsterRunStatus.NOT_STARTED))
        assert is_active(delivery)
