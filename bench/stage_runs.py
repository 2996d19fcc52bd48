"""One benchmark stage's folder and process: a fresh KINVOLVED_HOME (the landing hard-linked in),
the environment, and the worker process measured around (time, peak RSS, spill)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from bench.district import CUSTOMER
from bench.measure import MIB, Measured, run_measured, worker_cmd

REPO = Path(__file__).resolve().parents[1]


def base_env(tmp: Path | None = None) -> dict:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if tmp is not None:
        tmp.mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmp)
    return env


def link_tree(src: Path, dest: Path) -> None:
    """Hard-link a generated landing into a stage's KINVOLVED_HOME (no copy, same bytes)."""
    for dirpath, _dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            try:
                os.link(Path(dirpath) / f, dest / rel / f)
            except OSError:
                shutil.copy2(Path(dirpath) / f, dest / rel / f)


def stage_dir(root: Path, name: str, landing: Path | None) -> tuple[Path, Path, Path]:
    d = root / "stages" / name
    shutil.rmtree(d, ignore_errors=True)
    home, tmp = d / "home", d / "tmp"
    tmp.mkdir(parents=True)
    home.mkdir()
    if landing is not None:
        link_tree(landing, home / "landing" / CUSTOMER)
    return d, home, tmp


def run_worker(name: str, stage: str, args: dict, d: Path, tmp: Path, spill: list[Path], log) -> Measured:
    out = d / f"{stage}.result.json"
    log(f"  stage {name} ...")
    m = run_measured(name, worker_cmd(stage, args, out), env=base_env(tmp), spill_dirs=spill, result_file=out,
                     cwd=REPO, log_file=d / f"{name}.log")
    check(m, log)
    return m


def check(m: Measured, log) -> None:
    status = "ok" if m.returncode == 0 else f"FAILED rc={m.returncode}"
    log(f"    {m.name}: {m.seconds:.1f} s, peak {m.peak_rss_bytes / MIB:.0f} MiB, spill "
        f"{m.spill_bytes / MIB:.0f} MiB ({status})")
    if m.returncode:
        log(m.stderr_tail)
