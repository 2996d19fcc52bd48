"""The OneRoster+ contract and drop reader (pure Python + DuckDB, no Dagster).

Modules: ``spec`` (the contract), ``findings`` (structured findings + rule ids), ``discover``
(drop/ZIP discovery and safety limits), ``decode`` (encoding + header), ``load`` (one file to raw
Parquet), ``drop`` (``open_drop``, ``validate_drop``), ``references`` (cross-file checks),
``report`` (text/JSON), ``command`` (``kinvolved validate``).
"""
