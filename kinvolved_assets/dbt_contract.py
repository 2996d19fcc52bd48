"""Column contract for the dbt project, derived from ``oneroster.spec``.

dbt's staging layer needs the typed column list of every raw entity (to emit a typed empty
relation when an entity was never delivered). It reads ``dbt_project/contract/oneroster_columns.csv``,
which is generated here and committed; ``tests/unit/test_dbt_contract.py`` keeps the two in sync.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kinvolved_assets.oneroster import spec

CSV_HEADER = ("entity", "column", "duckdb_type", "ordinal")
DEFAULT_CSV_PATH = (
    Path(__file__).resolve().parent.parent / "dbt_project" / "contract" / "oneroster_columns.csv"
)

# raw/_files/<entity>/delivery_date=<D>/part-0.parquet (see docs/architecture.md).
FILES_ENTITY = "_files"
FILES_COLUMNS = (
    ("entity", "VARCHAR"),
    ("delivery_date", "DATE"),
    ("mode", "VARCHAR"),
    ("file_name", "VARCHAR"),
    ("sha256", "VARCHAR"),
    ("rows", "BIGINT"),
    ("rejected_rows", "BIGINT"),
    ("min_date", "DATE"),
    ("max_date", "DATE"),
)


def columns_csv_rows() -> list[tuple[str, str, str, int]]:
    """(entity, column, duckdb_type, ordinal) for every raw entity, loader columns last, then ``_files``."""
    rows: list[tuple[str, str, str, int]] = []
    for entity in spec.RAW_ENTITIES:
        ordinal = 0
        for column in entity.columns:
            ordinal += 1
            rows.append((entity.name, column.name, column.duckdb_type, ordinal))
        for name, duckdb_type in spec.LOADER_COLUMNS.items():
            ordinal += 1
            rows.append((entity.name, name, duckdb_type, ordinal))
    for ordinal, (name, duckdb_type) in enumerate(FILES_COLUMNS, start=1):
        rows.append((FILES_ENTITY, name, duckdb_type, ordinal))
    return rows


def columns_csv_text() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(columns_csv_rows())
    return buffer.getvalue()


def write_columns_csv(path: Path | str = DEFAULT_CSV_PATH) -> Path:
    """Write the contract CSV (idempotent; only rewrites when the content changed)."""
    target = Path(path)
    text = columns_csv_text()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


if __name__ == "__main__":  # pragma: no cover
    print(write_columns_csv())
