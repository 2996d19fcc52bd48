"""One pull of a REST customer: plan (full or delta), page every endpoint to the archive, convert the
pages to a OneRoster+ delivery and hand it to the customer's landing folder atomically.

The delivery is written as ``landing/<customer>/.rest_<pull_id>.tmp/`` (hidden from the delivery
sensor) and renamed to ``rest_<pull_id>/`` only when every file is complete, so a partial pull is
never seen as a delivery; from there the delivery sensor / ``kinvolved ingest`` treat it like any
delivery (archive, raw Parquet, checks, marts). One pull per customer at a time (a lock file); a killed
pull leaves only hidden work folders, which the next pull removes before it starts again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from kinvolved_assets.oneroster import spec
from kinvolved_assets.rest import binding
from kinvolved_assets.rest.archive import PullArchive, remove_abandoned
from kinvolved_assets.rest.client import OneRosterClient, PullError
from kinvolved_assets.rest.config import CredentialsError, resolve_credentials
from kinvolved_assets.rest.convert import sha256_of, write_entity_csv, write_manifest
from kinvolved_assets.rest.filters import quote
from kinvolved_assets.rest.state import append_ledger, plan_pull

MAX_PAGES = 100_000
COUNT_ATTEMPTS = 3


@dataclass
class PullResult:
    customer_id: str
    pull_id: str
    mode: str
    reason: str
    delivery_date: str
    delivery: Path | None = None
    archive: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def pull_lock(root: Path, customer_id: str):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"a pull of customer {customer_id} is already running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _params(customer, entity: str, mode: str, since: dict[str, str]) -> dict:
    if mode == "full":
        if entity == "attendance":
            return {"filter": f"date>={quote(f'{customer.school_year - 1}-07-01')}"}
        return {}
    return {"filter": f"dateLastModified>{quote(since[entity])}"} if entity in since else {}


def _pull_entity(client: OneRosterClient, archive: PullArchive, customer, entity: str, params: dict):
    rest = customer.rest
    url = rest.base_url + binding.endpoint(rest.version, entity)
    origin = urlparse(rest.base_url)[:2]
    key = binding.collection_key(entity)
    for _attempt in range(COUNT_ATTEMPTS):
        pages, totals, got, offset = [], [], 0, 0
        next_url, next_params = url, {"limit": rest.page_size, "offset": 0, **params}
        while next_url:
            if len(pages) >= MAX_PAGES:
                raise PullError(f"customer {customer.customer_id}: {entity} has more than {MAX_PAGES} pages")
            sink = archive.page(entity, len(pages) + 1)
            response = client.get_page(next_url, next_params, sink)
            archive.record_page(sink)
            count = len(sink.records(key))
            header = response.headers.get("X-Total-Count", "")
            totals.append(int(header) if header.strip().isdigit() else None)
            pages.append(sink)
            got += count
            offset += rest.page_size
            link = response.links.get("next", {}).get("url")
            if count == 0:
                break
            if link:
                if urlparse(link)[:2] != origin:
                    raise PullError(f"customer {customer.customer_id}: a Link header of {entity} leaves "
                                    "rest.base_url")
                next_url, next_params = link, None
            elif (got < totals[-1]) if totals[-1] is not None else count >= rest.page_size:
                next_params = {"limit": rest.page_size, "offset": offset, **params}   # no Link: by offset
            else:
                next_url = None
        known = {t for t in totals if t is not None}
        if not known or (len(known) == 1 and got == totals[-1]):
            return pages, got
        archive.forget_entity(entity)
        change = f"{totals[0]} -> {totals[-1]}, {got} received"
    raise PullError(f"customer {customer.customer_id}: the record count of {entity} changed while paging "
                    f"({change}) "
                    f"on {COUNT_ATTEMPTS} attempts; the pull was not promoted and the next tick tries again")


def _write_delivery(customer, landing: Path, pull_id: str, pages: dict, mode: str) -> tuple[Path, dict, dict,
                                                                                            dict]:
    work = landing / f".rest_{pull_id}.tmp"
    work.mkdir(parents=True)
    rows, files, marks, modes = {}, {}, {}, {}
    for entity, entity_pages in pages.items():
        target = work / spec.ONEROSTER_11.entity(entity).file_name
        rows[entity], latest = write_entity_csv(entity, entity_pages, customer.rest.version,
                                                "bulk" if mode == "full" else "delta", target)
        files[entity] = sha256_of(target)
        modes[entity] = "bulk" if mode == "full" else "delta"
        if latest:
            marks[entity] = latest
    write_manifest(work, modes, pull_id, customer.rest.version)
    return work, rows, files, marks


def pull_customer(customer, home: Path | None = None, *, force_full: bool = False,
                  now: dt.datetime | None = None,
                  sleep=time.sleep) -> PullResult:
    """Pull a REST customer's API into one delivery in its landing folder (see the module docstring)."""
    started = time.monotonic()
    if customer.rest is None:
        raise PullError(f"customer {customer.customer_id} has flow {customer.flow}, not oneroster_rest")
    try:
        credentials = resolve_credentials(customer.customer_id, customer.rest)
    except CredentialsError as exc:
        raise PullError(str(exc)) from None
    paths, landing = customer.paths(home), customer.landing_dir(home)
    root = paths.archive / "rest"
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    day = now.astimezone(customer.tz).date()
    with pull_lock(root, customer.customer_id):
        remove_abandoned(root)
        for leftover in landing.glob(".rest_*.tmp") if landing.is_dir() else ():
            shutil.rmtree(leftover, ignore_errors=True)
        plan = plan_pull(paths, list(customer.rest.entities), day, customer.rest.overlap_minutes, force_full)
        pull_id = f"{now.astimezone(customer.tz):%Y%m%d_%H%M%S}_{plan.mode}_{secrets.token_hex(2)}"
        result = PullResult(customer.customer_id, pull_id, plan.mode, plan.reason, day.isoformat())
        archive = PullArchive(root, pull_id)
        client = OneRosterClient(customer.customer_id, customer.rest, credentials, log=archive.log,
                                 sleep=sleep)
        summary = {"customer_id": customer.customer_id, "pull_id": pull_id, "mode": plan.mode,
                   "reason": plan.reason,
                   "delivery_date": result.delivery_date, "version": customer.rest.version,
                   "started": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        work = None
        try:
            pages, totals = {}, {}
            for entity in customer.rest.entities:
                params = _params(customer, entity, plan.mode, plan.since)
                pages[entity], totals[entity] = _pull_entity(client, archive, customer, entity, params)
                summary.setdefault("filters", {})[entity] = params.get("filter", "")
            landing.mkdir(parents=True, exist_ok=True)
            work, rows, files, marks = _write_delivery(customer, landing, pull_id, pages, plan.mode)
            name = f"rest_{pull_id}"
            summary.update(records=totals, rows=rows, files=files, high_water=marks, delivery=name,
                           pages=sum(len(p) for p in pages.values()), requests=client.requests_made)
            result.archive = archive.commit(summary)
            os.replace(work, landing / name)
            append_ledger(paths, {"pull_id": pull_id, "delivery": name, "delivery_date": result.delivery_date,
                                  "mode": plan.mode, "files": files, "high_water": marks})
        except Exception as exc:
            message = str(exc) if isinstance(exc, PullError) else f"{type(exc).__name__} while pulling"
            archive.fail({**summary, "error": message, "requests": client.requests_made})
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
            if isinstance(exc, PullError):
                raise
            raise PullError(f"customer {customer.customer_id}: {message}; the pull was not "
                            "promoted") from None
        result.delivery, result.rows = landing / name, rows
        result.pages, result.requests = summary["pages"], client.requests_made
        result.seconds = time.monotonic() - started
        return result
