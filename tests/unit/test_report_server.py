"""``kinvolved serve-reports``: the two report folders of each customer over HTTP, nothing else."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

import pytest

from kinvolved_assets.report.serve import report_server, report_url


@pytest.fixture
def served(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse"
    (warehouse / "acme" / "reports" / "2025-09-05").mkdir(parents=True)
    (warehouse / "acme" / "reports" / "2025-09-05" / "validation.html").write_text("<h1>validation acme</h1>")
    (warehouse / "acme" / "reports" / "2025-09-05" / "validation.json").write_text("{}")
    (warehouse / "acme" / "reports" / "2025-09-05" / "seq=7").mkdir()
    (warehouse / "acme" / "reports" / "2025-09-05" / "seq=7" / "validation.html").write_text(
        "<h1>second</h1>")
    (warehouse / "acme" / "attendance_reports" / "2025-09-05").mkdir(parents=True)
    (warehouse / "acme" / "attendance_reports" / "2025-09-05" / "attendance.html").write_text(
        "<h1>district</h1>")
    (warehouse / "acme" / "raw" / "users" / "delivery_date=2025-09-05").mkdir(parents=True)
    (warehouse / "acme" / "raw" / "users" / "delivery_date=2025-09-05" / "part-0.html").write_text("raw")
    (warehouse / "acme" / "marts.duckdb").write_text("marts")
    server = report_server(warehouse, 0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("KINVOLVED_REPORTS_URL", base + "/")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield warehouse, base
    server.shutdown()
    server.server_close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_reports_are_served_and_nothing_else(served):
    warehouse, base = served
    url = report_url(warehouse / "acme" / "reports" / "2025-09-05" / "validation.html")
    assert url == f"{base}/acme/reports/2025-09-05/validation.html"
    assert _get(url) == (200, "<h1>validation acme</h1>")
    assert _get(f"{base}/acme/attendance_reports/2025-09-05/attendance.html") == (200, "<h1>district</h1>")
    status, index = _get(base + "/")
    assert (status == 200 and "/acme/reports/2025-09-05/validation.html" in index and "attendance_reports"
            in index)
    # a later delivery of the same date keeps its own report, served beside the first one's
    second = report_url(warehouse / "acme" / "reports" / "2025-09-05" / "seq=7" / "validation.html")
    assert second == f"{base}/acme/reports/2025-09-05/seq=7/validation.html"
    assert _get(second) == (200,
                            "<h1>second</h1>") and "/acme/reports/2025-09-05/seq=7/validation.html" in index
    assert _get(f"{base}/acme/attendance_reports/2025-09-05/seq=7/attendance.html")[0] == 404
    for path in ("/acme/reports/2025-09-05/validation.json", "/acme/marts.duckdb",
                 "/acme/raw/users/delivery_date=2025-09-05/part-0.html",
                 "/acme/reports/2025-09-05/../../marts.duckdb",
                 "/acme/reports/%2e%2e/2025-09-05/validation.html",
                 "/Acme/reports/2025-09-05/validation.html"):
        assert _get(base + path)[0] == 404, path
    assert report_url(warehouse / "acme" / "marts.duckdb") is None
    assert report_url(warehouse / "acme" / "raw" / "users" / "delivery_date=2025-09-05"
                      / "part-0.html") is None
