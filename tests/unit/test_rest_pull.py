"""The REST pull against a real local provider (HTTP on 127.0.0.1): what a pull writes, each fault
switch (the pull completes correctly or fails with one clear message and nothing is promoted), and
no secret or token in anything written."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import pytest

from kinvolved_assets.delivery.landing import find_deliveries
from kinvolved_assets.rest.client import ProviderRefused, PullError
from kinvolved_assets.rest.pull import pull_customer
from kinvolved_assets.rest.server import ProviderServer
from tests.rest_support import (
    CLIENT_ID,
    SECRET,
    START,
    generate_district,
    pull_time,
    scan_for_secrets,
    set_credentials,
)
from tests.rest_support import write_rest_customer as write_customer


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    out = tmp_path_factory.mktemp("district")
    generate_district(out, "restco", days=4)
    return out


@pytest.fixture
def site(tmp_path, monkeypatch, district):
    home, configs = tmp_path / "home", tmp_path / "customer_configs"
    home.mkdir()
    configs.mkdir()
    monkeypatch.setenv("KINVOLVED_HOME", str(home))
    monkeypatch.setenv("KINVOLVED_CONFIG_DIR", str(configs))
    set_credentials(monkeypatch)
    servers = []

    class Site:
        def serve(self, **options):
            server = ProviderServer(district, CLIENT_ID, SECRET, as_of=START, **options).start()
            servers.append(server)
            return server

        def customer(self, server, **rest):
            return write_customer(configs, "restco", server.url, **rest)

        def pull(self, customer, **options):
            return pull_customer(customer, home, now=pull_time(START, customer), **options)

    s = Site()
    s.home, s.district = home, district
    yield s
    tokens = [t for server in servers for t in server.provider.issued]
    for server in servers:
        server.stop()
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert scan_for_secrets(tmp_path, [SECRET, basic, *tokens]) == []


def _log(result) -> list[dict]:
    return [json.loads(line) for line in (result.archive / "requests.jsonl").read_text().splitlines()]


def _visible_deliveries(home):
    from kinvolved_assets.customers import load_customer_configs

    customer = load_customer_configs().customers["restco"]
    return find_deliveries(customer.landing_dir(home), customer.tz)


def _sorted_rows(data: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[0], sorted(rows[1:])


def test_full_pull_writes_the_same_files_as_the_bulk_delivery(site):
    server = site.serve()
    result = site.pull(site.customer(server))
    assert result.mode == "full" and result.delivery.name.startswith("rest_20250926_")
    deliveries = _visible_deliveries(site.home)
    assert [(d.kind, d.delivery_date) for d in deliveries] == [("folder", "2025-09-26")]
    with zipfile.ZipFile(sorted(site.district.glob("*.zip"))[0]) as generated:
        for name in generated.namelist():
            if name == "manifest.csv":
                continue
            assert (_sorted_rows((result.delivery / name).read_bytes())
                    == _sorted_rows(generated.read(name))), name
    manifest = (result.delivery / "manifest.csv").read_text()
    assert "source.flow,oneroster_rest" in manifest and "file.users,bulk" in manifest
    archived = result.archive
    pages = sorted(archived.glob("pages/*/*.json.gz"))
    assert len(pages) == result.pages == len((archived / "pages.sha256").read_text().splitlines())
    log = _log(result)
    assert {r["status"] for r in log} == {200} and len(log) == result.requests + 1   # + the token request
    assert json.loads((archived / "pull.json").read_text())["rows"] == result.rows


def test_version_12_with_oauth1_signing_gives_the_same_delivery(site):
    first = site.pull(site.customer(site.serve()))
    signed = site.serve(auth="oauth1_hmac_sha256")
    second = site.pull(site.customer(signed, version="1.2", auth="oauth1_hmac_sha256"), force_full=True)
    assert signed.provider.issued == [] and signed.provider.requests == second.requests
    for csv_file in first.delivery.glob("*.csv"):
        if csv_file.name != "manifest.csv":
            assert csv_file.read_bytes() == (second.delivery / csv_file.name).read_bytes(), csv_file.name
    assert {r["path"].split("/")[3] for r in _log(second)} == {"rostering"}


def test_429_waits_for_retry_after(site):
    server = site.serve()
    server.provider.faults.rate_limit, server.provider.faults.retry_after = 2, 1
    result = site.pull(site.customer(server))
    statuses = [r["status"] for r in _log(result) if r["method"] == "GET"]
    assert statuses[:3] == [429, 429, 200] and server.provider.faults.fired["rate_limit"] == 2
    assert result.seconds >= 2.0
    assert len(_visible_deliveries(site.home)) == 1


def test_500s_are_retried_with_backoff(site):
    server = site.serve()
    server.provider.faults.errors_500 = 3
    result = site.pull(site.customer(server))
    assert [r["status"] for r in _log(result) if r["method"] == "GET"][:4] == [500, 500, 500, 200]
    assert sum(result.rows.values()) > 0


def test_slow_responses_time_out_and_are_retried(site):
    server = site.serve()
    server.provider.faults.slow, server.provider.faults.slow_seconds = 1, 1.5
    result = site.pull(site.customer(server, timeout_s=0.5))
    outcomes = [r["outcome"] for r in _log(result) if r["method"] == "GET"]
    assert outcomes[0] in ("ReadTimeout", "ConnectionError", "Timeout") and outcomes[1] == "ok", outcomes[:3]


def test_token_expiring_mid_pull_is_renewed_once(site):
    server = site.serve()
    server.provider.faults.expire_tokens_after = 5
    result = site.pull(site.customer(server))
    assert len(server.provider.issued) == 2 and server.provider.faults.fired["expire_tokens"] == 1
    assert [r["status"] for r in _log(result)].count(401) == 1
    assert len(_visible_deliveries(site.home)) == 1


def test_refused_tokens_fail_with_one_clear_message(site):
    server = site.serve()
    server.provider.faults.reject_tokens = True
    with pytest.raises(ProviderRefused, match="the provider refused the credentials of customer restco"):
        site.pull(site.customer(server))
    assert len(server.provider.issued) == 2          # the first token and one renewal, then stop
    assert _visible_deliveries(site.home) == []
    assert list((site.home / "archive" / "restco" / "rest").glob("*.failed"))


def test_a_wrong_secret_fails_with_one_clear_message(site, monkeypatch):
    server = site.serve()
    set_credentials(monkeypatch, secret="wrong-" + SECRET[::-1])
    with pytest.raises(ProviderRefused) as err:
        site.pull(site.customer(server))
    message = str(err.value)
    assert message.startswith("the provider refused the credentials of customer restco (token endpoint "
                              "answered 401)")
    assert SECRET[::-1] not in message and server.provider.issued == []
    assert _visible_deliveries(site.home) == []


def test_a_partial_pull_is_never_promoted(site):
    server = site.serve()
    customer = site.customer(server, max_retries=2)
    server.provider.faults.errors_500 = 10_000
    with pytest.raises(PullError, match="answered 500 3 times; the pull was not promoted"):
        site.pull(customer)
    landing = customer.landing_dir(site.home)
    assert _visible_deliveries(site.home) == [] and not list(landing.glob(".rest_*"))
    failed = next((site.home / "archive" / "restco" / "rest").glob("*.failed"))
    assert "not promoted" in json.loads((failed / "pull.json").read_text())["error"]
    server.provider.faults.errors_500 = 0          # the next tick pulls everything again
    assert site.pull(customer).mode == "full" and len(_visible_deliveries(site.home)) == 1


def _delta_users(site, server, customer):
    from kinvolved_assets.rest.archive import PullArchive
    from kinvolved_assets.rest.client import OneRosterClient
    from kinvolved_assets.rest.config import resolve_credentials
    from kinvolved_assets.rest.pull import _pull_entity

    archive = PullArchive(site.home / "archive" / "restco" / "rest", "probe")
    client = OneRosterClient("restco", customer.rest, resolve_credentials("restco", customer.rest),
                             log=archive.log)
    params = {"filter": "dateLastModified>'2025-09-20T00:00:00Z'"}
    return archive, _pull_entity(client, archive, customer, "users", params)


def test_a_record_modified_between_two_pages_makes_the_entity_pulled_again(site):
    server = site.serve()
    customer = site.customer(server, page_size=40)
    server.provider.faults.modify_between_pages = "users"
    archive, (pages, got) = _delta_users(site, server, customer)
    assert server.provider.faults.fired["modify_between_pages"] == 1
    assert "users: earlier pages discarded" in (archive.work / "pages.sha256").read_text()
    expected = server.provider.state.select("users", lambda r: r["dateLastModified"] > "2025-09-20")
    assert got == len(expected) and sum(len(p.records("users")) for p in pages) == len(expected)


def test_a_record_count_that_keeps_changing_fails_clearly(site):
    server = site.serve()
    customer = site.customer(server, page_size=40)
    server.provider.faults.modify_between_pages, server.provider.faults.modify_times = "users", 5
    with pytest.raises(PullError, match=r"record count of users changed while paging \(\d+ -> \d+"):
        _delta_users(site, server, customer)


def test_paging_by_total_count_without_link_headers_and_the_request_rate(site):
    with_links = site.pull(site.customer(site.serve(), page_size=100))
    server = site.serve()
    server.provider.faults.link_header = False
    customer = site.customer(server, page_size=100, max_requests_per_second=20)
    result = site.pull(customer, force_full=True)
    assert result.rows == with_links.rows and result.pages == with_links.pages > 20
    gets = [r for r in _log(result) if r["method"] == "GET"]
    assert any(r["query"].get("offset") == 200 for r in gets if r["path"].endswith("/users"))
    assert result.seconds >= (len(gets) - 1) / 20


def test_the_commands_serve_and_pull_for_real(site, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kinvolved = os.path.join(os.path.dirname(sys.executable), "kinvolved")
    env = {**os.environ, "ONEROSTER_CLIENT_ID": CLIENT_ID, "ONEROSTER_CLIENT_SECRET": SECRET}
    server = subprocess.Popen([kinvolved, "serve-oneroster", "--district", str(site.district), "--port",
                               str(port),
                               "--as-of", "2025-09-29", "--seconds", "60"], env=env, stdout=subprocess.PIPE,
                               text=True)
    try:
        banner = server.stdout.readline()
        assert f"on http://127.0.0.1:{port}" in banner and "as of 2025-09-29" in banner, banner
        from types import SimpleNamespace

        site.customer(SimpleNamespace(url=f"http://127.0.0.1:{port}"))
        done = subprocess.run([kinvolved, "pull", "restco", "--full"], env=dict(os.environ),
                              capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert (done.stdout.startswith("full pull ") and "users" in done.stdout
                and SECRET not in done.stdout + done.stderr)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert len(_visible_deliveries(site.home)) == 1


def test_a_token_past_its_expires_in_is_renewed_before_the_request(site):
    server = site.serve(token_seconds=1)
    server.provider.faults.slow, server.provider.faults.slow_seconds = 3, 0.6
    result = site.pull(site.customer(server))
    assert len(server.provider.issued) >= 2
    assert [r["outcome"] for r in _log(result)].count("token") == len(server.provider.issued)
    assert len(_visible_deliveries(site.home)) == 1
