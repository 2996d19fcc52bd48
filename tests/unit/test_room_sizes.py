"""The package's size rules, read from the source (ast): no module of ``kinvolved_assets/`` over
400 lines, no function (or method, nested ones counted on their own too) over 80 lines, decorators
and docstring included (docs/architecture.md, "Rooms").

The exceptions below are modules still over a limit; each names the size it has now, may not grow,
and must leave the list once it is split (the test fails on an exception that is no longer needed).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "kinvolved_assets"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80

# module (relative to kinvolved_assets/) -> its lines today; to be split, then removed from here
FILE_EXCEPTIONS: dict[str, int] = {}
# (module, function) -> its lines today; to be split, then removed from here
FUNCTION_EXCEPTIONS: dict[tuple[str, str], int] = {}


def _modules() -> dict[str, Path]:
    return {path.relative_to(ROOT).as_posix(): path for path in sorted(ROOT.rglob("*.py"))}


def _function_sizes(path: Path) -> dict[str, int]:
    """Longest definition per function name in the module, from its first decorator to its last line."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out[node.name] = max(out.get(node.name, 0), node.end_lineno - first + 1)
    return out


def test_no_module_over_the_file_limit():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    over = {name: n for name, n in sizes.items() if n > MAX_FILE_LINES and name not in FILE_EXCEPTIONS}
    assert not over, f"modules over {MAX_FILE_LINES} lines (split them into rooms of their own): {over}"
    grown = {name: (sizes.get(name), limit) for name, limit in FILE_EXCEPTIONS.items()
             if sizes.get(name, 0) > limit}
    assert not grown, f"listed exceptions grew (lines now, allowed): {grown}"
    stale = [name for name in FILE_EXCEPTIONS if sizes.get(name, 0) <= MAX_FILE_LINES]
    assert not stale, f"no longer over the limit: remove them from FILE_EXCEPTIONS: {stale}"


def test_no_function_over_the_function_limit():
    sizes = {(name, fn): n for name, path in _modules().items() for fn, n in _function_sizes(path).items()}
    over = {key: n for key, n in sizes.items() if n > MAX_FUNCTION_LINES and key not in FUNCTION_EXCEPTIONS}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them): {over}"
    grown = {key: (sizes.get(key), limit) for key, limit in FUNCTION_EXCEPTIONS.items()
             if sizes.get(key, 0) > limit}
    assert not grown, f"listed exceptions grew (lines now, allowed): {grown}"
    stale = [key for key in FUNCTION_EXCEPTIONS if sizes.get(key, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"no longer over the limit: remove them from FUNCTION_EXCEPTIONS: {stale}"


def test_the_measure_sees_a_long_function(tmp_path):
    """The measure itself: decorators count, a nested function is measured on its own too."""
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    source = tmp_path / "m.py"
    source.write_text(f"@decorator\ndef outer():\n    def inner():\n        return 1\n{body}\n",
                      encoding="utf-8")
    sizes = _function_sizes(source)
    assert sizes["outer"] == 89 and sizes["inner"] == 2
