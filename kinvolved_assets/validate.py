"""Validate a delivery offline (``kinvolved validate``): the OneRoster+ contract, then the expectation suites.

Above both: ``oneroster`` reads and checks the delivery, ``expectations`` runs the pipeline's suites on
what was read; ``DeliveryReport`` holds the two results (rendered by ``validate_report``).

    report = validate_delivery(path, customer="demo_district")
    report.ok, report.findings, report.expectations
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kinvolved_assets.oneroster.customer_match import wrong_customer_findings
from kinvolved_assets.oneroster.delivery_files import open_delivery, school_year_findings
from kinvolved_assets.oneroster.discover import DeliveryLimits
from kinvolved_assets.oneroster.findings import Finding, finding
from kinvolved_assets.oneroster.references import check_references

__all__ = ["DeliveryReport", "FileSummary", "validate_delivery"]


@dataclass
class FileSummary:
    name: str | None
    entity: str
    mode: str | None
    rows: int
    rejected: int
    failed: bool
    sha256: str | None = None
    min_date: str | None = None
    max_date: str | None = None
    quarantined: int = 0            # rows a row-level rule of the customer moved to rejects/ (`validate
                                    # --customer`)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class DeliveryReport:
    path: str
    sha256: str
    fatal: bool
    files: list[FileSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)
    expectations: list[dict] = field(default_factory=list)   # one suite result per entity

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def blocking_expectations(self) -> list[dict]:
        return [e for e in self.expectations if e.get("blocking")]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.blocking_expectations

    def to_dict(self) -> dict:
        return {
            "delivery": self.path,
            "sha256": self.sha256,
            "fatal": self.fatal,
            "files": [f.to_dict() for f in self.files],
            "findings": [f.to_dict() for f in self.findings],
            "expectations": [
                {"entity": e["entity"], "passed": e["passed"], "blocking": e["blocking"],
                 **{k: e["metadata"].get(k) for k in ("expectations_evaluated", "expectations_failed",
                                                      "failed_error", "failed_warn", "unexpected_counts")}}
                for e in self.expectations
            ],
        }


def validate_delivery(path: Path, limits: DeliveryLimits = DeliveryLimits(),
                      delivery_date: str = "2000-01-01",
                  customer=None, expectations: bool = True) -> DeliveryReport:
    """Load every file into a temp folder, check cross-file references and, with ``expectations``,
    run the same expectation suites as the pipeline (``customer``: a config or id for the school year
    and current state). The date in the delivery's name, if any, is its delivery date for the suites."""
    path = Path(path)
    with open_delivery(path, limits) as delivery, tempfile.TemporaryDirectory(prefix="kv-validate-") as tmp:
        report = DeliveryReport(path=path.name, sha256=delivery.sha256, fatal=delivery.fatal,
                            manifest=dict(delivery.manifest))
        report.findings.extend(delivery.findings)
        if delivery.fatal:
            return report
        present = [e.name for e in delivery.contract.entities if e.name in delivery.files]
        results = delivery.load_many(present, Path(tmp), delivery_date)
        for res in results.values():
            report.findings.extend(res.findings)
        config = _config(customer)
        foreign = _wrong_customer(results, config)
        report.findings.extend(foreign)
        try:
            report.findings.extend(check_references(results, Path(tmp), limits, delivery.contract))
        except Exception as exc:  # noqa: BLE001
            report.findings.append(finding("file.internal_error",
                                           f"reference checks could not run ({type(exc).__name__})."))
        report.findings.extend(school_year_findings(results, config))
        if expectations and results and not any(f.severity == "error" for f in foreign):
            from kinvolved_assets.delivery.landing import date_from_name
            from kinvolved_assets.expectations import validate_loaded_delivery

            report.expectations = validate_loaded_delivery(results, customer, date_from_name(path.name))
        # the counts after the suites: what ingest would load, reject and quarantine
        quarantined = _quarantined_rows(report.expectations)
        for ent_name, res in results.items():
            report.files.append(FileSummary(res.file_name, ent_name, res.mode, res.rows,
                                            res.rejected_rows - quarantined.get(ent_name, 0), res.failed,
                                            res.sha256, res.min_date, res.max_date,
                                            quarantined.get(ent_name, 0)))
        return report


def _wrong_customer(results: dict, customer) -> list[Finding]:
    """``delivery.wrong_customer`` against the customer's licensed schools and delivered orgs."""
    if customer is None:
        return []
    raw = customer.paths().raw
    return wrong_customer_findings(results, customer, raw if raw.exists() else None)


def _quarantined_rows(expectations: list[dict]) -> dict[str, int]:
    """Rows the suites moved to rejects/ per entity (row-level rules of a customer that quarantines)."""
    out: dict[str, int] = {}
    for e in expectations or []:
        for r in e["metadata"].get("results", []):
            n = int((r.get("detail") or {}).get("quarantined_rows", 0) or 0)
            if n:
                out[e["entity"]] = out.get(e["entity"], 0) + n
    return out


def _config(customer):
    """A customer id's config (None when no config has that id); a config as it is."""
    if isinstance(customer, str):
        from kinvolved_assets.customers import load_customer_configs

        return load_customer_configs().customers.get(customer)
    return customer
