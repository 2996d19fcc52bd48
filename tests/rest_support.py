"""A generated district served by the local OneRoster provider, and REST customers that pull it."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import yaml

CLIENT_ID = "kinvolved-test-client"
SECRET = "Zq8-not-a-real-secret-7fA2xK91pL0"      # the value the scans look for
ID_ENV, SECRET_ENV = "KV_TEST_ONEROSTER_ID", "KV_TEST_ONEROSTER_SECRET"
START = dt.date(2025, 9, 26)      # Fri bulk, Mon + Tue deltas, Wed 1 Oct monthly bulk, Thu delta
DAYS = 7


def generate_district(out: Path, customer_id: str, days: int = DAYS, truth: Path | None = None):
    from kinvolved_assets.generator.generate import generate

    return generate(customer_id, "tiny", 7, START, days, out, truth=truth, school_year=2026)


def rest_config(server_url: str, **overrides) -> dict:
    rest = {"base_url": server_url, "version": "1.1", "auth": "oauth2_client_credentials",
            "token_url": f"{server_url}/oauth/token", "page_size": 250, "max_requests_per_second": 100,
            "timeout_s": 5, "max_retries": 4, "retry_backoff_s": 0.05,
            "credentials_env": {"client_id": ID_ENV, "client_secret": SECRET_ENV}}
    rest.update(overrides)
    if rest["auth"] == "oauth1_hmac_sha256":
        rest.pop("token_url", None)
    return rest


def write_rest_customer(config_dir: Path, customer_id: str, server_url: str, **rest_overrides):
    """customer_configs/<id>.yaml for a REST customer of the generated district; returns the model."""
    from kinvolved_assets.customers import parse_customer_config
    from kinvolved_assets.generator.config import suggested_config

    config = suggested_config(customer_id, "tiny", 7, 2026)
    config.update(flow="oneroster_rest", rest=rest_config(server_url, **rest_overrides),
                  schedule={"daily": "30 2 * * 1-5", "monthly": "0 3 1 * *"})
    path = config_dir / f"{customer_id}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return parse_customer_config(path)


def set_credentials(monkeypatch, secret: str = SECRET) -> None:
    monkeypatch.setenv(ID_ENV, CLIENT_ID)
    monkeypatch.setenv(SECRET_ENV, secret)


def pull_time(day: dt.date, customer) -> dt.datetime:
    """The night after ``day``'s changes, in the customer's timezone (the delivery date is ``day``)."""
    return dt.datetime.combine(day, dt.time(23, 40), tzinfo=customer.tz)


def scan_for_secrets(root: Path, needles: list[str]) -> list[str]:
    """Every file under ``root`` holding one of ``needles`` (raw bytes, and inside gzip members)."""
    import gzip

    found = []
    encoded = [n.encode() for n in needles if n]
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            try:
                data += gzip.decompress(data)
            except OSError:
                pass
        if any(n in data for n in encoded):
            found.append(os.fspath(path))
    return found
