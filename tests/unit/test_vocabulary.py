"""One word for what a district sends: "delivery". The noun "drop" (and "drops", "Drop") is not used
in ``kinvolved_assets/`` (identifiers, string constants, comments: read with ``ast`` and ``tokenize``)
nor in ``docs/*.md``.

Allowed, and only these: SQL's ``DROP TABLE``/``VIEW``/``SCHEMA``/``INDEX``/``MACRO``/``IF EXISTS``;
the verb's other forms ("dropped", "dropping" are other words); and the values assigned to a name
ending in ``_BEFORE_RENAME`` (keys and tags of runs, events and reports recorded before the rename,
read as a fallback).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kinvolved_assets"
DOCS = ROOT / "docs"
NOUN = re.compile(r"(?<![A-Za-z])[Dd]rops?(?![a-z])|(?<![A-Za-z])DROPS?(?![A-Za-z])")
SQL = re.compile(r"(?i)\bdrop\s+(table|view|schema|index|macro|if\s+exists)\b")
LEGACY_SUFFIX = "_BEFORE_RENAME"


def _words(identifier: str) -> list[str]:
    """An identifier's words: snake_case parts and CamelCase humps."""
    return [w for part in identifier.split("_") for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", part)]


def noun_uses(text: str) -> list[str]:
    """The uses of the noun in prose or a string, SQL's DROP statements left out."""
    return NOUN.findall(SQL.sub(" ", text))


def _legacy_values(tree: ast.AST) -> set[int]:
    """ids of the constants assigned to ``*_BEFORE_RENAME`` names (their whole value)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        if any(isinstance(t, ast.Name) and t.id.endswith(LEGACY_SUFFIX) for t in targets):
            out |= {id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant)}
    return out


def _identifiers(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.name.rpartition(".")[2]] + ([node.asname] if node.asname else [])
    if isinstance(node, ast.ImportFrom) and node.module:
        return node.module.split(".")
    return []


def module_findings(source: str, name: str) -> list[str]:
    """``name:line: what`` for each use of the noun in one module's identifiers, strings and comments."""
    tree = ast.parse(source)
    legacy = _legacy_values(tree)
    found = []
    for node in ast.walk(tree):
        for ident in _identifiers(node):
            if any(w.lower() in ("drop", "drops") for w in _words(ident)):
                found.append(f"{name}:{node.lineno}: identifier {ident}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in legacy:
            if noun_uses(node.value):
                found.append(f"{name}:{node.lineno}: string {node.value[:60]!r}")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and noun_uses(tok.string):
            found.append(f"{name}:{tok.start[0]}: comment {tok.string[:60]!r}")
    return found


def test_the_scan_sees_the_noun_and_allows_only_the_list():
    assert noun_uses("a new drop, two drops; Drop discovery") == ["drop", "drops", "Drop"]
    assert noun_uses("DROP TABLE IF EXISTS x; drop view y; dropped; dropping; raindrop") == []
    source = ("import kinvolved_assets.oneroster.drop as d\n"
              "KEYS_BEFORE_RENAME = {'drop': 'delivery_file'}\n"
              "def find_drops(landed_drop):  # each drop\n"
              "    return LandedDrop(landed_drop, 'the drop', 'DROP VIEW v')\n")
    found = module_findings(source, "m.py")
    assert [f.split(": ", 1)[1].split(" ")[0] for f in found] == [
        "identifier", "identifier", "identifier", "identifier", "identifier", "string", "comment"], found
    assert not any("KEYS_BEFORE_RENAME" in f or "'delivery_file'" in f for f in found)


def test_the_package_says_delivery():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += module_findings(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert found == [], "the noun 'drop' in the package (say 'delivery'):\n" + "\n".join(found)


def test_the_docs_say_delivery():
    found = [f"{path.relative_to(ROOT).as_posix()}:{n}: {line.strip()[:80]}"
             for path in sorted(DOCS.glob("*.md"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if noun_uses(line)]
    assert found == [], "the noun 'drop' in docs/ (say 'delivery'):\n" + "\n".join(found)
