"""One delivery's walk through the rooms, measured: ``python -m bench.crossings``.

Generates a tiny district with one delivery (one day, a ZIP) under a temporary ``KINVOLVED_HOME``,
then runs ``local_runner.process_landing`` (sensor tick + ingest run + marts run) with a profiler on
every thread (``sys.setprofile``, ``threading.setprofile``) and prints the room-to-room crossings.

What is counted (docs/architecture.md, "One delivery's walk through the rooms"):

* A **room** is the first part of a module's path below ``kinvolved_assets/``: a package
  (``delivery/``, ``marts/``, ``defs/``, ``oneroster/`` ...) or a top-level module (``customers.py``).
* The **ground floor** (``paths``, ``sql``, ``diskspace``, ``permissions``) is imported by anyone:
  calls into it are not counted, nor calls into ``instance_sqlite`` (the Dagster instance's SQLite
  connection hook, which Dagster's storage calls whenever any step opens the instance's database).
* ``local_runner`` is the driver standing in for the daemon: what Dagster runs for it (the sensor, the
  runs' ops and resources) is the walk; its own calls (the writer lock, dead runs and recovery before
  the tick, the ledger look-ups between runs) are not.
* A **crossing** is a Python call of a function defined in ``kinvolved_assets`` whose caller, the
  nearest frame on the stack whose code is in ``kinvolved_assets`` (library frames such as Dagster's
  skipped; a comprehension or lambda stands for the function it is written in), is in another room.
  Module bodies run by an import are not calls.
* One **step**: the crossings one invocation of a function makes into one room, one after the other,
  count once. Per caller frame the rooms it enters are collapsed by runs: a function calling B, B, C,
  B makes 3 crossings (B, C, B).
* Reading a value is not a step: property getters and the special methods Python calls by itself
  (``__init__``, ``__enter__``, ``__exit__``, ``__iter__``, comparisons ...) are not counted.
* The **walk** is the crossings made by the rooms the delivery's control runs through: the wiring
  (``defs``: the sensor, the assets, the resources) and the delivery lifecycle (``delivery``; in a
  checkout before it was one package, its modules ``delivery``, ``delivery_locate``, ``ledger``,
  ``customer_lock``, ``recovery``, ``legacy_layout``, ``ingest`` and ``history_window``, so an older
  revision is measured the same way). What the rooms they call do for the step (``expectations``
  reading the contract in ``oneroster``, ``customers`` reading its YAML) is nested in the step: it is
  in the totals "every room", not in the walk.
* The walk's **count** is its distinct (from-room, to-room, caller → first callee) rows: a step taken
  again (the resource loading the customer in each run, a helper called once per entity) is one row,
  with how often it happened next to it.

Printed: the walk's steps in order, its distinct rows with how often each happened (the count), the
room pairs, and the totals of every room.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "kinvolved_assets"
GROUND = frozenset({"paths", "sql", "diskspace", "permissions"})
NOT_COUNTED = GROUND | {"instance_sqlite"}
DRIVER = "local_runner"
WALK_ROOMS = frozenset({"defs", "delivery", "delivery_locate", "ledger", "customer_lock", "recovery",
                        "legacy_layout", "ingest", "history_window"})
INLINE = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<lambda>"})
GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
CUSTOMER = "walk"


@dataclass(frozen=True)
class Crossing:
    source: str
    target: str
    caller: str
    callee: str


class RoomProfiler:
    """The profile function: records each crossing once per (caller frame, run of one target room)."""

    def __init__(self, package_dir: Path):
        self.prefix = str(package_dir) + os.sep
        self.rooms: dict[object, str | None] = {}
        self.reads: dict[object, bool] = {}
        self.last_target: dict[tuple[int, object], str] = {}
        self.steps: list[Crossing] = []
        self.lock = threading.Lock()

    def room(self, code) -> str | None:
        if code not in self.rooms:
            name = code.co_filename
            self.rooms[code] = (Path(name[len(self.prefix):]).parts[0].removesuffix(".py")
                                if name.startswith(self.prefix) else None)
        return self.rooms[code]

    def __call__(self, frame, event, arg):
        if event == "return":   # a generator's yield is a return too: its runs go on when it resumes
            if not frame.f_code.co_flags & GENERATOR_FLAGS:
                self.last_target.pop((id(frame), frame.f_code), None)
            return
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        target = self.room(frame.f_code)
        if target is None or self.is_read(frame):
            return
        caller = self._caller(frame)
        if caller is None:
            return
        source = self.room(caller.f_code)
        if source == target or source == DRIVER or NOT_COUNTED & {source, target} or not self.driven(caller):
            return
        key = (id(caller), caller.f_code)
        with self.lock:
            if self.last_target.get(key) == target:
                return
            self.last_target[key] = target
            self.steps.append(Crossing(source, target, _name(caller.f_code), _name(frame.f_code)))

    def is_read(self, frame) -> bool:
        """A property getter or a special method: reading a value, not a step."""
        code = frame.f_code
        if code not in self.reads:
            owner, _, attr = getattr(code, "co_qualname", code.co_name).rpartition(".")
            cls = frame.f_globals.get(owner) if owner and "<" not in owner else None
            static = vars(cls).get(attr) if isinstance(cls, type) else None
            self.reads[code] = (attr.startswith("__") and attr.endswith("__")) or isinstance(
                static, (property, functools.cached_property))
        return self.reads[code]

    def _caller(self, frame):
        caller = frame.f_back
        while caller is not None and self.room(caller.f_code) is None:
            caller = caller.f_back
        while (caller is not None and caller.f_code.co_name in INLINE and caller.f_back is not None
               and self.room(caller.f_back.f_code) == self.room(caller.f_code)):
            caller = caller.f_back
        return caller

    def driven(self, caller) -> bool:
        """The call runs under something Dagster started for the driver (the sensor, an op, a resource),
        not under a call the driver made into the package itself."""
        frame, below = caller, None
        while frame is not None:
            if self.room(frame.f_code) == DRIVER:
                return below is not None and self.room(below.f_code) is None
            below, frame = frame, frame.f_back
        return False


def _name(code) -> str:
    path = Path(code.co_filename)
    where = path.stem if path.parent == PACKAGE_DIR else f"{path.parent.name}/{path.stem}"
    return f"{where}.{getattr(code, 'co_qualname', code.co_name)}"


def prepare(work: Path) -> tuple[Path, Path]:
    """A tiny generated district with one delivery: (home, config folder)."""
    import yaml

    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.generator.config import suggested_config
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.paths import CustomerPaths

    home, config_dir = work / "home", work / "customer_configs"
    home.mkdir()
    config_dir.mkdir()
    config = suggested_config(CUSTOMER, "tiny", 7, 2026, None)
    (config_dir / f"{CUSTOMER}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    landing = CustomerPaths.for_customer(CUSTOMER, home).landing
    landing = CustomerPaths.for_customer(CUSTOMER, home).landing
    generate(CUSTOMER, "tiny", 7, build_calendar(2026).start, 1, landing, fmt="zip",
             truth=home / "truth" / CUSTOMER, school_year=2026)
    return home, config_dir


def walk(work: Path) -> list[Crossing]:
    """The crossings of one delivery through ``process_landing``, in order."""
    home, config_dir = prepare(work)
    os.environ["KINVOLVED_HOME"] = str(home)
    os.environ["KINVOLVED_CONFIG_DIR"] = str(config_dir)
    from dagster import DagsterInstance

    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.local_runner import process_landing

    defs = build_definitions(config_dir, home, settle_seconds=0)
    profiler = RoomProfiler(PACKAGE_DIR)
    with DagsterInstance.ephemeral() as instance:
        threading.setprofile(profiler)
        sys.setprofile(profiler)
        try:
            report = process_landing(defs, instance, CUSTOMER)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
    ok = [run for run in report.ingest_runs if run[2]]
    if len(ok) != 1 or not (report.marts_run and report.marts_run[1]):
        raise SystemExit(f"the walk did not complete: ingest runs {report.ingest_runs}, marts "
                         f"{report.marts_run}, failures {sorted(report.failures)}")
    return profiler.steps


def table(steps: list[Crossing]) -> list[str]:
    walk = [s for s in steps if s.source in WALK_ROOMS]
    rows = [f"{s.source} -> {s.target}  {s.caller} -> {s.callee}" for s in walk]
    lines = ["the walk, in order:"] + [f"{n:3d}  {row}" for n, row in enumerate(rows, 1)]
    counts = Counter(rows)
    lines += ["", "the walk's distinct (from, to, step) rows, with how often each happened:"]
    lines += [f"{n:3d}  {counts[row]:2d}x  {row}" for n, row in enumerate(dict.fromkeys(rows), 1)]
    pairs = Counter((s.source, s.target) for s in walk)
    lines += ["", "room pairs of the walk:"] + [f"{n:3d}  {a} -> {b}" for (a, b), n in pairs.items()]
    every = Counter((s.source, s.target) for s in steps)
    lines += ["", f"walk: {len(counts)} crossings (distinct steps; {len(walk)} with repeats), "
                  f"{len(pairs)} room pairs",
              f"every room: {len(set(steps))} distinct steps ({len(steps)} with repeats), "
              f"{len(every)} room pairs"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crossings", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kinvolved-walk-") as work:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)   # the runs' own output (dbt's lines) goes to stderr; the table alone to stdout
        try:
            steps = walk(Path(work))
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        print("\n".join(table(steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
