from kinvolved_assets import dbt_contract
from kinvolved_assets.oneroster import spec


def test_committed_contract_csv_matches_spec():
    committed = dbt_contract.DEFAULT_CSV_PATH.read_text(encoding="utf-8")
    assert committed == dbt_contract.columns_csv_text(), (
        "dbt_project/contract/oneroster_columns.csv is stale: run "
        "`python -m kinvolved_assets.dbt_contract` and commit the result"
    )


def test_contract_rows_cover_every_entity_and_loader_column():
    rows = dbt_contract.columns_csv_rows()
    entities = {r[0] for r in rows}
    assert entities == {e.name for e in spec.RAW_ENTITIES} | {dbt_contract.FILES_ENTITY}
    for entity in spec.RAW_ENTITIES:
        names = [r[1] for r in rows if r[0] == entity.name]
        assert names == list(entity.column_names) + list(spec.LOADER_COLUMNS)
        ordinals = [r[3] for r in rows if r[0] == entity.name]
        assert ordinals == list(range(1, len(ordinals) + 1))


def test_write_is_idempotent(tmp_path):
    target = tmp_path / "c.csv"
    dbt_contract.write_columns_csv(target)
    first = target.read_text()
    dbt_contract.write_columns_csv(target)
    assert target.read_text() == first
