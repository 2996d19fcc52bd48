"""The OneRoster+ contract and delivery reader (pure Python + DuckDB, no Dagster).

It imports nothing from the rest of ``kinvolved_assets`` but the ground floor (``paths``,
``diskspace``, ``sql``; tests/unit/test_import_layers.py). Modules: ``spec`` (the contract),
``findings`` (structured findings + rule ids), ``discover`` (delivery/ZIP discovery and safety limits),
``decode`` (encoding + header), ``load`` (one file to raw Parquet), ``delivery_files``
(``open_delivery``, ``DeliveryFiles``), ``references`` (cross-file checks). Delivery validation with
the expectation suites on top is ``kinvolved_assets.validate`` (``kinvolved validate``:
``cli/validate.py``, ``validate_report``).
"""
