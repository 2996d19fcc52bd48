"""What a pull keeps in the customer's archive: gzipped pages with their sha256 and a request log.

``archive/<customer>/rest/<pull_id>/``:
  ``pages/<entity>/page-00001.json.gz``   each response body as received
  ``pages.sha256``                        sha256 of each page's bytes (before gzip), ``sha  path`` lines
  ``requests.jsonl``                      method, path, query, status, attempt, seconds, outcome; no headers
  ``pull.json``                           mode, filters, counts, high-water marks, the delivery it became
A pull is built in ``.pull-<id>.tmp`` and renamed when complete; a failed pull is kept as
``<id>.failed`` (its log and error, for the operator); a killed one is removed by the next pull.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

from kinvolved_assets.rest.client import CHUNK, PullError


class PageSink:
    """Receives one response body in chunks: gzip to ``path``, sha256 and size on the way."""

    def __init__(self, path: Path):
        self.path = path
        self.sha256 = ""
        self.size = 0

    def write_from(self, response, limit: int) -> None:
        digest = hashlib.sha256()
        self.size = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(self.path, "wb", compresslevel=5) as out:
            for chunk in response.iter_content(CHUNK):
                self.size += len(chunk)
                if self.size > limit:
                    raise PullError(f"a page of {self.path.parent.name} is larger than {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
        self.sha256 = digest.hexdigest()

    def records(self, key: str) -> list:
        try:
            with gzip.open(self.path, "rb") as handle:
                body = json.load(handle)
        except (OSError, ValueError, EOFError):
            raise PullError(f"{self.path.parent.name} {self.path.name}: the response is not JSON") from None
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise PullError(f"{self.path.parent.name} {self.path.name}: the response has no {key!r} list")
        return items


class PullArchive:
    """The work folder of one pull under ``archive/<customer>/rest/``."""

    def __init__(self, root: Path, pull_id: str):
        self.root = root
        self.pull_id = pull_id
        self.work = root / f".pull-{pull_id}.tmp"
        self.work.mkdir(parents=True)
        self._log = open(self.work / "requests.jsonl", "a", encoding="utf-8")
        self._sha = open(self.work / "pages.sha256", "a", encoding="utf-8")

    def log(self, record) -> None:
        self._log.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
        self._log.flush()

    def page(self, entity: str, number: int) -> PageSink:
        return PageSink(self.work / "pages" / entity / f"page-{number:05d}.json.gz")

    def record_page(self, sink: PageSink) -> None:
        self._sha.write(f"{sink.sha256}  {sink.path.relative_to(self.work).as_posix()}\n")
        self._sha.flush()

    def forget_entity(self, entity: str) -> None:
        """Forget an entity's pages (a re-pull after the record count changed while paging)."""
        shutil.rmtree(self.work / "pages" / entity, ignore_errors=True)
        self._sha.write(f"# {entity}: earlier pages discarded, pulled again\n")

    def _close(self, summary: dict) -> None:
        self._log.close()
        self._sha.close()
        (self.work / "pull.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")

    def commit(self, summary: dict) -> Path:
        self._close(summary)
        final = self.root / self.pull_id
        os.replace(self.work, final)
        return final

    def fail(self, summary: dict) -> Path:
        self._close(summary)
        final = self.root / f"{self.pull_id}.failed"
        os.replace(self.work, final)
        return final


def remove_abandoned(root: Path) -> int:
    """Work folders of killed pulls (call with the customer's pull lock held)."""
    removed = 0
    if root.is_dir():
        for leftover in root.glob(".pull-*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)
            removed += 1
    return removed
