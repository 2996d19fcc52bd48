"""Operator commands print what they did, not Dagster's notices about its own API; asset
descriptions read as written in the UI (placeholders in code spans, not swallowed as HTML)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_ingest_prints_no_dagster_notices(platform):
    platform.add_customer("acme", generate_deliveries=False)
    env = {**os.environ, "KINVOLVED_HOME": str(platform.home),
           "KINVOLVED_CONFIG_DIR": str(platform.config_dir)}
    env.pop("PYTHONWARNINGS", None)
    kinvolved = Path(sys.executable).parent / "kinvolved"
    proc = subprocess.run([str(kinvolved), "ingest", "acme"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no new deliveries" in proc.stdout
    for noise in ("BetaWarning", "SupersessionWarning", "PreviewWarning", "dg dev"):
        assert noise not in proc.stdout + proc.stderr


def test_raw_asset_descriptions_keep_their_placeholders(platform):
    platform.add_customer("acme", generate_deliveries=False)
    graph = platform.definitions().resolve_asset_graph()
    from dagster import AssetKey

    description = graph.get(AssetKey(["oneroster", "attendance"])).description
    assert "(`warehouse/<customer>/raw/attendance/delivery_date=<date>/`)" in description
