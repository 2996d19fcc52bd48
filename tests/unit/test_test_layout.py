"""The test tree itself: helpers import as modules of ``tests`` (no sys.path edits), every test is
collected from the module that defines it, and the modules sharing the ``fleet`` stay one xdist unit."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import FLEET_MODULES, SLOWEST_UNITS, fleet_scope, longest_first

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def _sources():
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_no_module_edits_sys_path():
    edits = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in ("insert", "append")
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "path"
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == "sys"):
                edits.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert edits == []


def test_no_test_is_imported_from_another_module():
    """A test function imported into a test module would be collected there, not where it lives."""
    imported = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                imported += [f"{path.relative_to(REPO)}: "
                             f"{a.name}" for a in node.names if a.name.startswith("test_")]
    assert imported == []


def test_fleet_modules_are_one_work_unit():
    assert all((REPO / m).is_file() for m in FLEET_MODULES)
    assert {fleet_scope(f"{m}::test_x") for m in FLEET_MODULES} == {FLEET_MODULES[0]}
    other = "tests/unit/test_sql.py::test_literal_keeps_the_type"
    assert fleet_scope(other) == "tests/unit/test_sql.py"


def test_slowest_units_exist_and_go_first():
    assert all((REPO / unit).is_file() for unit in SLOWEST_UNITS)
    assert SLOWEST_UNITS[0] == FLEET_MODULES[0]   # the fleet's unit is named by its first module
    units = ["tests/unit/test_sql.py", SLOWEST_UNITS[2], "tests/unit/test_paths.py", SLOWEST_UNITS[0]]
    assert sorted(units, key=longest_first) == [SLOWEST_UNITS[0], SLOWEST_UNITS[2], "tests/unit/test_sql.py",
                                                "tests/unit/test_paths.py"]
