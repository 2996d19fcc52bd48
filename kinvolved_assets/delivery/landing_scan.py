"""The delivery sensor's decisions for one customer, without Dagster: which landing entries are new,
complete deliveries to request, which are retried, skipped or still being written, and the new cursor.

``scan_landing`` is the sensor's one call into the delivery room per customer and tick: deliveries of
dead runs marked failed in the ledger, the Dagster runs they leave behind handed to the caller's
``fail_runs``, then the landing folder listed, each entry's completeness checked, new bytes hashed and
registered in the ledger (``evaluate_landing``). Run requests are plain dicts (run key, customer,
delivery date, delivery, sha256, date source); defs/sensors.py turns them into Dagster ``RunRequest``s.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kinvolved_assets.delivery.history_window import before_history_message
from kinvolved_assets.delivery.landing import (
    delivery_sha256,
    find_deliveries,
    incomplete_reason,
    unreadable_names,
)
from kinvolved_assets.delivery.ledger import MAX_ATTEMPTS, PENDING, SETTLED, Ledger, pid_alive
from kinvolved_assets.paths import CustomerPaths

# a run that started this recently may not have taken the customer's writer lock yet
STARTING_GRACE_SECONDS = 120


@dataclass
class LandingScan:
    """One tick's outcome for one customer: ``notes`` (dead runs found and failed) come before the
    tick's decisions in ``logs``; ``requests`` are the runs to start; ``cursor`` the sensor's new one."""

    notes: list[str]
    requests: list[dict]
    logs: list[str]
    cursor: dict


def scan_landing(customer, paths: CustomerPaths, landing: Path, cursor: dict, settle_seconds: float, *,
                 partitions_start: str | None, is_active, fail_runs: Callable[[set[str]], list[str]],
                 ) -> LandingScan:
    """One sensor tick for ``customer``: deliveries of dead runs become ``failed`` (so this tick retries
    them), ``fail_runs(run ids the ledger shows interrupted)`` marks the runs left behind and returns
    its lines, then ``evaluate_landing`` against the ledger."""
    notes = []
    with Ledger(paths) as ledger:
        for gone in ledger.fail_interrupted():
            notes.append(f"{gone.file_name}: run {gone.run_id} stopped (pid {gone.pid} is gone)")
        interrupted = interrupted_run_ids(ledger)
    notes += fail_runs(interrupted)
    with Ledger(paths) as ledger:
        requests, logs, new_cursor = evaluate_landing(customer, landing, cursor, settle_seconds,
                                                      partitions_start=partitions_start, ledger=ledger,
                                                      is_active=is_active)
    return LandingScan(notes=notes, requests=requests, logs=logs, cursor=new_cursor)


def interrupted_run_ids(ledger: Ledger) -> set[str]:
    """The Dagster run ids of deliveries the ledger found interrupted (their run's process gone); a
    backlog step's run id carries its delivery's suffix, dropped here."""
    return {d.run_id.rsplit("-", 1)[0] if d.run_id.count("-") == 5 else d.run_id
            for d in ledger.deliveries()
            if d.state == "failed" and (d.note or "").startswith("interrupted") and d.run_id}


def _in_partition_range(delivery_date: str, now: float) -> bool:
    last = (dt.datetime.fromtimestamp(now, tz=dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return delivery_date <= last


def evaluate_landing(customer, landing, cursor: dict, settle_seconds: float, now: float | None = None,
                     partitions_start: str | None = None, ledger=None, is_active=None):
    """Pure decision logic of the delivery sensor.

    Returns (run requests as dicts, log lines, new cursor). Cursor: ``done`` maps a delivery key to the
    signature and sha256 already handled; ``pending`` holds signatures seen last tick (a delivery whose
    signature did not change between two ticks is complete even if younger than ``settle_seconds``).

    With the customer's ``ledger`` (the answer every path asks): bytes the ledger already shows
    ingested, blocked or superseded are skipped with a message naming them (a re-copied delivery), and a
    delivery it shows ``landed`` or ``failed`` (a killed or failed run) is requested again unless
    ``is_active(delivery)`` says a run for it is queued or running.
    """
    now = time.time() if now is None else now
    done: dict = dict(cursor.get("done", {}))
    pending: dict = dict(cursor.get("pending", {}))
    requests, logs = [], []
    deliveries = find_deliveries(landing, customer.tz)
    logs += [f"skipped {name}: the name is not valid UTF-8; rename it" for name in unreadable_names(landing)]
    for delivery in deliveries:
        key, sig = delivery.key, delivery.signature
        if done.get(key, {}).get("sig") == sig:
            retry = _retry(customer, delivery, done[key].get("sha"), ledger, is_active)
            if retry is not None:
                logs.append(retry.pop("log"))
                requests.append(retry)
            continue
        reason = incomplete_reason(delivery)
        if reason and reason.startswith("empty"):
            logs.append(f"skipped {delivery.name}: {reason}")
            done[key] = {"sig": sig, "sha": None, "skipped": reason}
            continue
        settled = (now - delivery.mtime) >= settle_seconds or pending.get(key) == sig
        if not settled:
            pending[key] = sig
            logs.append(f"waiting for {delivery.name}: still changing (size {delivery.size})")
            continue
        if reason:
            pending[key] = sig
            logs.append(f"waiting for {delivery.name}: {reason}")
            continue
        early = before_history_message(customer, delivery.delivery_date, partitions_start)
        if early:  # not marked done: picked up once history_from_school_year allows it
            logs.append(f"skipped {delivery.name}: {early}")
            continue
        if not _in_partition_range(delivery.delivery_date, now):
            logs.append(f"skipped {delivery.name}: delivery date {delivery.delivery_date} is outside the "
                        "partitions")
            done[key] = {"sig": sig, "sha": None, "skipped": "date out of range"}
            continue
        sha = delivery_sha256(delivery)
        done[key] = {"sig": sig, "sha": sha}
        pending.pop(key, None)
        request = _new_request(customer, delivery, sha, ledger, is_active, logs)
        if request is not None:
            requests.append(request)
    present = {d.key for d in deliveries}
    new_cursor = {
        "done": {k: v for k, v in done.items() if k in present},
        "pending": {k: v for k, v in pending.items() if k in present},
    }
    return requests, logs, new_cursor


def _request(customer, delivery, sha: str, attempts: int = 0) -> dict:
    suffix = f":retry-{attempts}" if attempts else ""
    return {"run_key": f"{customer.customer_id}:{sha}{suffix}", "customer_id": customer.customer_id,
            "delivery_date": delivery.delivery_date, "delivery": delivery.name, "sha": sha,
            "date_source": delivery.date_source}


def _new_request(customer, delivery, sha: str, ledger, is_active, logs: list[str]) -> dict | None:
    if ledger is None:
        return _request(customer, delivery, sha)
    entry = ledger.get(sha)
    if entry is not None and entry.state in SETTLED:
        same = "" if entry.file_name == delivery.name else f" as {entry.file_name}"
        logs.append(f"skipped {delivery.name}: the same bytes were delivered before{same} "
                    f"({entry.delivery_date} #{entry.seq}, {entry.state})")
        return None
    if entry is not None and (entry.state == "ingesting" or (is_active and is_active(entry))):
        logs.append(f"waiting for {delivery.name}: run {entry.run_id or '(queued)'} is on it")
        return None
    if entry is not None and entry.attempts >= MAX_ATTEMPTS:
        logs.append(f"skipped {delivery.name}: {entry.state} after {entry.attempts} attempts ({entry.note}); "
                    f"`kinvolved reingest {customer.customer_id} {entry.seq}` tries again")
        return None
    if entry is not None and entry.attempts:
        logs.append(f"retrying {delivery.name} ({entry.state}{': ' + entry.note if entry.note else ''})")
    entry = entry or ledger.register(sha, delivery.name, delivery.delivery_date, delivery.date_source,
                                     delivery.mtime)
    return _request(customer, delivery, sha, entry.attempts)


def _retry(customer, delivery, sha: str | None, ledger, is_active) -> dict | None:
    """A delivery handled by an earlier tick whose delivery the ledger still shows pending (its run was
    killed, failed, or never started): request it again."""
    if ledger is None or not sha:
        return None
    entry = ledger.get(sha)
    if entry is None or entry.state not in PENDING or entry.attempts >= MAX_ATTEMPTS:
        return None
    # requested by a live sensor process moments ago: its run is about to be queued, not lost
    if (entry.state == "landed" and pid_alive(entry.pid)
            and entry.age_seconds(time.time()) < STARTING_GRACE_SECONDS):
        return None
    if is_active and is_active(entry):
        return None
    request = _request(customer, delivery, sha, entry.attempts)
    why = f": {entry.note}" if entry.note else ""
    request["log"] = f"retrying {delivery.name} ({entry.state}{why})"
    return request
