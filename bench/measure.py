"""Wall time, peak RSS of a process tree and DuckDB spill of one benchmark stage.

Each stage runs in its own child process. While it runs, the parent polls ``/proc`` every
``interval`` seconds (0.2) and sums the resident set of the child and all its descendants (dbt runs as a
grandchild of a Dagster run), and sums the bytes under the stage's temp directories (DuckDB spill
files). A Python worker also reports its own ``VmHWM`` at exit (exact, not sampled): the
reported peak is the larger of the sampled tree sum and the worker's own VmHWM (exact).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


@dataclass
class Measured:
    name: str
    seconds: float
    peak_rss_bytes: int
    peak_rss_sampled_bytes: int
    spill_bytes: int
    returncode: int
    result: dict = field(default_factory=dict)
    stderr_tail: str = ""
    load_avg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 3),
            "peak_rss_mib": round(self.peak_rss_bytes / MIB, 1),
            "peak_rss_sampled_mib": round(self.peak_rss_sampled_bytes / MIB, 1),
            "spill_mib": round(self.spill_bytes / MIB, 1),
            "returncode": self.returncode,
            "load_avg_1m_at_start": self.load_avg[0],
            **({"stderr_tail": self.stderr_tail} if self.returncode else {}),
            **self.result,
        }


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def _children(pid: int, fallback: dict[int, list[int]] | None) -> list[int]:
    if fallback is not None:
        return fallback.get(pid, [])
    kids: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children", "rb") as fh:
                kids.extend(int(k) for k in fh.read().split())
    except OSError:
        pass
    return kids


_HAS_CHILDREN_FILE = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 if gone)."""
    fallback = None if _HAS_CHILDREN_FILE else _children_map()
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(_children(p, fallback))
    return total


def dir_bytes(paths) -> int:
    total = 0
    stack = [Path(p) for p in paths]
    while stack:
        p = stack.pop()
        try:
            with os.scandir(p) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(Path(e.path))
                        else:
                            total += e.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        except OSError:
            pass
    return total


def run_measured(name: str, cmd: list[str], *, env: dict | None = None, spill_dirs=(),
                 result_file: Path | None = None,
                 interval: float = 0.2, cwd: Path | None = None, log_file: Path | None = None) -> Measured:
    """Run ``cmd`` as a child, poll its tree RSS and the spill dirs, return the figures.

    ``result_file``: a JSON file the child writes (merged into ``Measured.result``).
    """
    if result_file is not None and result_file.exists():
        result_file.unlink()
    load = os.getloadavg()
    err = open(log_file, "wb") if log_file else subprocess.DEVNULL  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=err, stderr=err)
    peak_sampled, spill = 0, 0
    status, usage = None, None
    try:
        while True:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                status, usage = st, ru
                break
            peak_sampled = max(peak_sampled, tree_rss(proc.pid))
            if spill_dirs:
                spill = max(spill, dir_bytes(spill_dirs))
            time.sleep(interval)
    except BaseException:
        proc.kill()
        raise
    finally:
        seconds = time.perf_counter() - t0
        if log_file:
            err.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {}
    if result_file is not None and result_file.exists():
        result = json.loads(result_file.read_text())
    # ru_maxrss survives fork+exec on Linux (it starts at the parent's RSS), so it is kept only as a
    # note; the figure is the sampled tree sum, or the worker's own exact VmHWM if larger.
    result["ru_maxrss_mib"] = round(usage.ru_maxrss / 1024, 1)
    peak = max(peak_sampled, int(result.pop("vm_hwm_bytes", 0)))
    tail = ""
    if proc.returncode and log_file and Path(log_file).exists():
        tail = Path(log_file).read_text(errors="replace")[-3000:]
    return Measured(name, seconds, peak, peak_sampled, spill, proc.returncode, result, tail, load)


def worker_cmd(stage: str, args: dict, result_file: Path) -> list[str]:
    return [sys.executable, "-m", "bench.worker", stage, json.dumps(args), str(result_file)]
