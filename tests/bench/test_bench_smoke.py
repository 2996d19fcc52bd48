"""Smoke run of the benchmark (``python -m bench``) at tiny scale on one delivery: a real run of every
stage (ours, the DuckDB limit, the pandas peer), checked through the JSON it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The whole-Dagster stage is left to `make bench` (its path is covered by the integration tests).
STAGES = ("ingest", "expectations", "marts", "limit", "peer_load", "peer_marts")


@pytest.mark.bench
def test_bench_tiny_smoke(tmp_path):
    out = tmp_path / "tiny.json"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "tiny", "--days", "1", "--work", str(tmp_path / "work"),
         "--stages", "ingest,expectations,marts,limit,peer", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    entry = report["scales"]["tiny"]
    assert entry["district"]["deliveries"] == 1 and entry["district"]["rows"] > 0
    for name in STAGES:
        stage = entry["stages"][name]
        assert stage["returncode"] == 0, name
        assert stage["seconds"] > 0 and stage["peak_rss_mib"] > 0 and stage["rows"] > 0, (name, stage)
        assert stage["rows_per_s"] > 0 and stage["spill_mib"] >= 0, (name, stage)
    # ours and the peer agree on the marts they build
    assert entry["stages"]["marts"]["mart_rows"] == entry["stages"]["peer_marts"]["mart_rows"]
    for name in ("ingest_vs_limit_time", "ingest_vs_limit_rss", "ingest_vs_peer_load_time",
                 "ingest_vs_peer_load_rss",
                 "marts_vs_peer_marts_time", "pipeline_vs_peer_time"):
        assert entry["ratios"][name] > 0, name
    assert "ours: read+validate -> Parquet" in proc.stdout and "ratio ingest_vs_limit_time" in proc.stdout
