"""The package's import layers, read from the source (ast): the OneRoster+ contract stands alone and
no two modules import each other.

* ``oneroster/`` imports nothing from the rest of ``kinvolved_assets`` but the ground floor (modules
  that themselves import nothing from the package), at any level: module, function or
  ``TYPE_CHECKING`` block.
* The import graph has no cycle, counting every import that runs: module-level statements (also
  inside ``if``/``try``/``with`` and class bodies) and imports inside functions alike. A function-level
  import is deferred on purpose (e.g. to keep Great Expectations out of a plain import), but a cycle
  through one is still two modules that need each other, so it counts; a ``TYPE_CHECKING`` import
  never runs and does not. Importing ``a.b.c`` also runs ``a/b/__init__.py`` unless the importer is
  already inside ``a.b``: an edge to that package too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "kinvolved_assets"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
CONTRACT = f"{PACKAGE}.oneroster"
GROUND = {f"{PACKAGE}.paths", f"{PACKAGE}.diskspace", f"{PACKAGE}.sql"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".")[: None if is_package else -1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        # ``from pkg import name``: the submodule when ``name`` is one, else the package itself
        names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
    return [t for t in map(_known, names) if t is not None and t != module]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str) -> dict[str, set[str]]:
    """{"module": ..., "function": ..., "typing": ...} targets inside the package."""
    path = MODULES[module]
    found: dict[str, set[str]] = {"module": set(), "function": set(), "typing": set()}

    def walk(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found[where].update(_targets(module, path.name == "__init__.py", child))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                walk(child, "function" if where == "module" else where)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    walk(ast.Module(body=[stmt], type_ignores=[]), "typing")
                for stmt in child.orelse:
                    walk(ast.Module(body=[stmt], type_ignores=[]), where)
            else:
                walk(child, where)

    walk(ast.parse(path.read_text(encoding="utf-8")), "module")
    return found


def import_edges(kinds: tuple[str, ...] = ("module", "function")) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        out = set()
        found = imports(module)
        for target in set().union(*(found[k] for k in kinds)):
            out.add(target)
            parent = target.rpartition(".")[0]
            while parent and not (module == parent or module.startswith(parent + ".")):
                out.add(parent)     # importing a.b.c runs a/b/__init__.py first
                parent = parent.rpartition(".")[0]
        edges[module] = out - {module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walker_sees_the_package():
    """The walk finds real edges of every kind (so the tests below cannot pass on an empty graph)."""
    assert len(MODULES) > 50 and CONTRACT in MODULES and GROUND <= set(MODULES)
    assert f"{PACKAGE}.checks" in imports(f"{PACKAGE}.delivery.ingest")["module"]
    assert f"{PACKAGE}.oneroster.delivery_files" in imports(f"{PACKAGE}.validate")["module"]
    assert f"{PACKAGE}.expectations" in imports(f"{PACKAGE}.validate")["function"]
    assert f"{PACKAGE}.customers" in imports(f"{PACKAGE}.checks")["typing"]
    assert f"{PACKAGE}.oneroster.spec" in imports(f"{PACKAGE}.oneroster.load")["module"]   # relative import
    edges = import_edges()
    assert f"{PACKAGE}.oneroster" in edges[f"{PACKAGE}.delivery.ingest"]   # the package __init__ runs first
    assert f"{PACKAGE}.oneroster" not in edges[f"{PACKAGE}.oneroster.delivery_files"]   # already inside it
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_oneroster_imports_nothing_above_it():
    above = {}
    for module in MODULES:
        if module == CONTRACT or module.startswith(CONTRACT + "."):
            found = imports(module)
            bad = {t for kind in found.values() for t in kind
                   if t != PACKAGE and not t.startswith(CONTRACT) and t not in GROUND}
            if bad:
                above[module] = sorted(bad)
    assert above == {}, f"the OneRoster+ contract imports modules above it: {above}"


def test_the_ground_floor_imports_nothing_from_the_package():
    for module in sorted(GROUND | {PACKAGE}):
        found = imports(module)
        assert not set().union(*found.values()), f"{module} imports {found}"


def test_no_import_cycle():
    found = cycles(import_edges())
    assert found == [], f"modules that import each other (directly or around a loop): {found}"
