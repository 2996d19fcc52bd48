"""Expectation suites of the OneRoster+ entities (rules in ``rules.py``), run on each staged delivery.

Great Expectations is imported only when a suite runs (``gx_runner``), never at import time.
"""

from .report import delivery_reporter, write_report
from .rules import ERROR, WARN, Params, Rule, rules_for, rules_table
from .validator import CHECK_NAME, evaluate_entity, expectations_validator, validate_loaded_delivery

__all__ = [
    "CHECK_NAME", "ERROR", "WARN", "Params", "Rule", "delivery_reporter", "evaluate_entity",
    "expectations_validator", "rules_for", "rules_table", "validate_loaded_delivery", "write_report",
]
