"""Which delivery a check result belongs to, and what is live when it fails.

A blocked delivery never reaches ``raw/``: the data of an earlier delivery stays published. Every
check result of a delivery names the delivery (date, delivery, delivery sha256, promoted or not); the
results of a blocked one also name what stays live for the entity (the delivery of the same date
promoted before, else the entity's latest promoted delivery), and each entity gets an observation
in its partition saying so, so the asset's event list shows the failure next to the live data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from kinvolved_assets.paths import CustomerPaths, partition_files


def _files_row(file: Path | None) -> tuple[str, int] | None:
    if file is None or not file.exists():
        return None
    with duckdb.connect() as con:
        row = con.execute("select sha256, rows from read_parquet(?) limit 1", [str(file)]).fetchone()
    return (str(row[0] or ""), int(row[1] or 0)) if row else None


def live_state(paths: CustomerPaths, entity: str, delivery_date: str) -> dict:
    """What raw/ serves for one entity: the latest promoted delivery of that date, else the latest
    one before it (else the latest one)."""
    parts = partition_files(paths.raw / "_files" / entity)
    same = [p for p in parts if p[0] == delivery_date]
    chosen = same or [p for p in parts if p[0] < delivery_date] or parts
    if not chosen:
        return {"live_delivery_date": "none"}
    day, _, file = chosen[-1]
    latest = _files_row(file) or ("", 0)
    return {"live_delivery_date": day, "live_file_sha256": latest[0], "live_rows": latest[1]}


def live_text(live: dict) -> str:
    if live.get("live_delivery_date") in (None, "none"):
        return "nothing of this entity is live yet"
    return (f"live: the delivery of {live['live_delivery_date']} ({live.get('live_rows', 0):,} rows, "
            f"file sha256 {str(live.get('live_file_sha256', ''))[:12]}) stays published")


def delivery_fields(delivery) -> dict:
    return {"delivery_date": delivery.delivery_date, "delivery_file": delivery.delivery_path.name,
            "delivery_sha256": delivery.delivery_sha256, "promoted": bool(delivery.promoted)}


def report_link(report_path: Path | None) -> dict:
    """``validation_report_url``: the delivery's validation report as a link the UI opens (served by
    ``kinvolved serve-reports``); empty when there is no report."""
    from dagster import MetadataValue

    from kinvolved_assets.report.serve import report_url

    url = report_url(report_path) if report_path is not None else None
    return {"validation_report_url": MetadataValue.url(url)} if url else {}


def annotate_check(fields: dict, delivery, paths: CustomerPaths) -> dict:
    """A check result's fields with its delivery named (and, when blocked, what is live), and a link
    to the delivery's validation report."""
    entity = fields["asset_key"].path[-1]
    meta = {**delivery_fields(delivery), **fields.get("metadata", {}),
            **report_link(getattr(delivery, "report_path", None))}
    who = (f"delivery {delivery.delivery_date} ({delivery.delivery_path.name}, "
           f"sha256 {delivery.delivery_sha256[:12]})")
    text = fields.get("description") or ""
    if not delivery.promoted:
        live = live_state(paths, entity, delivery.delivery_date)
        meta.update(live)
        state = "passed" if fields["passed"] else "FAILED"
        text = f"{who}: {state}, delivery BLOCKED (not promoted); {live_text(live)}. {text}".strip()
    else:
        text = f"{who}: {text}".strip(": ")
    return {**fields, "description": text, "metadata": meta}


def blocked_observations(delivery, paths: CustomerPaths,
                         failed_by_entity: dict[str, list[str]]) -> list[dict]:
    """(entity, metadata, description) of the observations a blocked delivery leaves on each entity."""
    out = []
    for entity in delivery.entities:
        live = live_state(paths, entity, delivery.delivery_date)
        failed = failed_by_entity.get(entity, [])
        # keys of their own: the partition's pane shows them beside the live materialization's delivery
        blocked = {f"blocked_{k}": v for k, v in delivery_fields(delivery).items() if k != "promoted"}
        meta = {**blocked, "failed_checks": ", ".join(failed) or "none (another file failed)",
                "blocked_by": delivery.blocking_summary(), **live, **report_link(delivery.report_path)}
        out.append({"entity": entity, "metadata": meta,
                    "description": f"delivery {delivery.delivery_date} BLOCKED by "
                                   f"{delivery.blocking_summary()}; "
                                   f"{live_text(live)}"})
    return out
