"""The dbt intermediate models' naming rule and mass-deletion ordering, read from the project's files
(dbt_project/README.md, "Intermediate model names" and "Mass-deletion ordering")."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

INTERMEDIATE = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "intermediate"
README = INTERMEDIATE.parents[1] / "README.md"
NAME_RULE = re.compile(r"int_[a-z]+(?:_[a-z]+)*__[a-z]+ed(?:_[a-z]+)*")
AUDIT = "int_bulk_deliveries__audited"
DEPENDS_ON_AUDIT = "-- depends_on: {{ ref('" + AUDIT + "') }}"
# an entity's staging view: every stg_oneroster__* except the delivery list (_files)
ENTITY_STAGING = re.compile(r"ref\('stg_oneroster__(?!files')")


def _models() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(INTERMEDIATE.glob("*.sql"))}


def test_every_intermediate_model_is_entity_then_verb():
    models = _models()
    assert models, INTERMEDIATE
    wrong = [name for name in models if not NAME_RULE.fullmatch(name)]
    assert wrong == [], f"not int_<entity>__<verb>ed: {wrong}"


def test_the_readme_table_lists_every_intermediate_model():
    readme = README.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(int_[a-z_]+)` \|", readme, flags=re.MULTILINE))
    assert listed == set(_models())


def test_each_intermediate_yml_is_named_after_its_one_model():
    models = set(_models())
    for path in sorted(INTERMEDIATE.glob("*.yml")):
        declared = [m["name"] for m in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]]
        assert declared == [path.stem], path.name
        assert path.stem in models, path.name


def test_every_model_reading_an_entity_directly_runs_after_the_audit():
    missing = [name for name, sql in _models().items()
               if name != AUDIT and ENTITY_STAGING.search(sql) and DEPENDS_ON_AUDIT not in sql]
    assert missing == [], f"reads stg_oneroster__<entity> without `{DEPENDS_ON_AUDIT}`: {missing}"
