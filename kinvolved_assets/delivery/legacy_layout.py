"""One-time upgrade of a customer's warehouse to the ``seq=`` layout.

Before deliveries had an arrival sequence, a delivery's files sat directly in its date's folder
(``raw/<entity>/delivery_date=<D>/part-0.parquet``, the same under ``raw/_files/`` and ``rejects/``).
They read as sequence 0, but a re-ingest of that delivery writes ``seq=<N>/`` beside them: its rows
twice. Every writer therefore calls ``upgrade_layout`` under the customer's writer lock before it
writes raw/: each legacy file moves to ``delivery_date=<D>/seq=<N>/``, N being the ledger's seq of the
delivery that wrote it:

- the date's one ``ingested`` delivery in the ledger;
- several: the one whose entity file has the sha256 recorded in the legacy ``_files`` partition (its
  own ``seq=`` copy, else its archived delivery); several with those same bytes: the last applied of
  them (the one the old layout kept; the rows are the same either way);
- none (a warehouse older than the ledger): the archived delivery of that date the ledger does not know,
  decided the same way, recorded in the ledger as ``ingested``.

Anything else is refused (``LegacyLayout``) with the customer and folder named, never guessed.
Once: when nothing is left to move the warehouse gets a marker (``.layout-seq``) and later writers
skip the scan. Crash-safe: every move is one rename, an entity's ``_files`` file moves after its
raw and rejects files, and the marker is written last, so a rerun after a crash decides the same
way. A legacy file whose ``seq=`` copy already exists (the delivery was re-ingested after the
upgrade) is the older copy of the same delivery and is removed. Pure Python, no Dagster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from kinvolved_assets.delivery.landing import find_archived
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.paths import DATE_RE, CustomerPaths, delivery_part
from kinvolved_assets.permissions import FILE_MODE, private_dir

FILES = "_files"


class LegacyLayout(RuntimeError):
    """A legacy partition whose delivery cannot be decided: the operator has to say."""


def _legacy(paths: CustomerPaths) -> dict[str, dict[str, list[Path]]]:
    """date -> entity -> legacy files (raw and rejects first, ``_files`` last)."""
    found: dict[str, dict[str, list[Path]]] = {}
    bases = [(b.name, b) for root in (paths.raw, paths.rejects) if root.is_dir()
             for b in sorted(root.iterdir()) if b.is_dir() and b.name != FILES]
    if (paths.raw / FILES).is_dir():
        bases += [(b.name, b) for b in sorted((paths.raw / FILES).iterdir()) if b.is_dir()]
    for entity, base in bases:
        for day in sorted(base.glob("delivery_date=*")):
            date = day.name.split("=", 1)[1]
            if not DATE_RE.fullmatch(date):
                continue
            files = [f for f in sorted(day.iterdir()) if f.is_file() and not f.name.startswith(".")]
            if files:
                found.setdefault(date, {}).setdefault(entity, []).extend(files)
    return found


def _shas(parquet: Path) -> frozenset[str]:
    with duckdb.connect() as con:
        return frozenset(r[0] for r in con.execute("select sha256 from read_parquet(?)",
                                                   [str(parquet)]).fetchall()
                         if r[0])


def _member_sha(archived: Path | None, entity: str) -> frozenset[str]:
    from kinvolved_assets.oneroster.delivery_files import open_delivery

    if archived is None:
        return frozenset()
    with open_delivery(archived) as delivery:
        member = delivery.files.get(entity)
        return frozenset([member.sha256]) if member is not None else frozenset()


class _Candidate:
    def __init__(self, paths: CustomerPaths, date: str, sha256: str, seq: int | None, archived: Path | None):
        self.paths, self.date, self.sha256, self.seq, self.archived = paths, date, sha256, seq, archived

    def files_shas(self, entity: str) -> frozenset[str]:
        """The sha256 of this delivery's file of ``entity``: its own ``seq=`` ``_files`` copy, else its
        delivery."""
        if self.seq is not None:
            own = delivery_part(self.paths.raw / FILES / entity, self.date, self.seq) / "part-0.parquet"
            if own.exists():
                return _shas(own)
        return _member_sha(self.archived, entity)


def _candidates(paths: CustomerPaths, ledger: Ledger, date: str) -> list[_Candidate]:
    """The ledger's ingested deliveries of the date; none: the date's archived deliveries it does not know."""
    known = ledger.same_date(date)
    ingested = [d for d in known if d.state == "ingested"]
    if ingested:
        return [_Candidate(paths, date, d.sha256, d.seq, find_archived(paths, date, d.sha256))
                for d in ingested]
    day_dir = paths.archive_partition(date)
    out = []
    for marker in sorted(day_dir.glob("*.sha256")) if day_dir.is_dir() else ():
        sha = marker.read_text().split()[0] if marker.stat().st_size else ""
        delivery = day_dir / marker.name[: -len(".sha256")]
        if sha and delivery.exists() and ledger.get(sha) is None:
            out.append(_Candidate(paths, date, sha, None, delivery))
    return out


def _decide(paths: CustomerPaths, date: str, entity: str, files: list[Path], candidates: list[_Candidate]):
    folder = files[0].parent.relative_to(paths.home)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LegacyLayout(
            f"customer {paths.customer_id}: {folder} holds files of the layout before seq= partitions, "
            f"and the ledger has no ingested delivery of {date} and the archive no unrecorded delivery of "
            f"that date to assign them to; move them into {folder}/seq=<N>/ "
            f"(N: `kinvolved deliveries {paths.customer_id}`) "
            "or remove them and `kinvolved backfill` that date")
    legacy_files = delivery_part(paths.raw / FILES / entity, date) / "part-0.parquet"
    wanted = _shas(legacy_files) if legacy_files.exists() else frozenset()
    matching = [c for c in candidates if wanted and c.files_shas(entity) == wanted]
    # several: the same bytes (the same rows either way); the last applied, as the old layout kept
    if matching:
        return max(matching, key=lambda c: (c.seq or 0, c.archived.stat().st_mtime if c.archived else 0))
    raise LegacyLayout(
        f"customer {paths.customer_id}: {folder} holds files of the layout before seq= partitions and "
        f"{len(candidates)} deliveries of {date} could have written them "
        "(none matches the sha256 of its _files record); move them into "
        f"{folder}/seq=<N>/ naming the right delivery (`kinvolved deliveries {paths.customer_id}`)")


def layout_marker(paths: CustomerPaths) -> Path:
    """Written once the customer's tree holds ``seq=`` partitions only (the code before them never
    wrote it)."""
    return paths.warehouse / ".layout-seq"


def _mark(marker: Path) -> None:
    private_dir(marker.parent)
    tmp = marker.with_name(marker.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write("every partition of this warehouse is in a seq= folder\n")
    os.replace(tmp, marker)


def _move(legacy: Path, seq: int) -> bool:
    """One legacy file into its ``seq=`` folder (True), or removed as the older copy (False)."""
    target = legacy.parent / f"seq={int(seq)}" / legacy.name
    if target.exists():
        legacy.unlink()
        return False
    private_dir(target.parent)
    os.replace(legacy, target)
    return True


def upgrade_layout(paths: CustomerPaths, say: Callable[[str], None] | None = None) -> int:
    """Move every legacy partition of the customer into its delivery's ``seq=`` folder (the caller
    holds the writer lock). Returns how many were moved; raises ``LegacyLayout`` when undecidable."""
    marker = layout_marker(paths)
    if marker.exists():   # upgraded (or created with seq= partitions): nothing to scan
        return 0
    legacy = _legacy(paths)
    if not legacy:
        _mark(marker)
        return 0
    moved = removed = recorded = 0
    with Ledger(paths) as ledger:
        for date, by_entity in sorted(legacy.items()):
            candidates = _candidates(paths, ledger, date)
            decided = {e: _decide(paths, date, e, files, candidates) for e, files in by_entity.items()}
            for candidate in {id(c): c for c in decided.values()}.values():
                if candidate.seq is None:   # a delivery older than the ledger: recorded as the one in raw/
                    arrived = candidate.archived.stat().st_mtime if candidate.archived else None
                    name = candidate.archived.name if candidate.archived else candidate.sha256[:12]
                    candidate.seq = ledger.register(candidate.sha256, name, date, "partition", arrived).seq
                    ledger.finish(candidate.sha256, "ingested",
                                  note="recorded by the upgrade to seq= partitions "
                                       "(its files were in raw/ before the ledger)")
                    recorded += 1
            # an entity's _files record moves after its raw and rejects files (``_legacy``'s order): a
            # rerun after a crash still finds it to decide by
            for entity, files in by_entity.items():
                for legacy_file in files:
                    if _move(legacy_file, decided[entity].seq):
                        moved += 1
                    else:
                        removed += 1
    _mark(marker)
    if say is not None:
        say(f"moved {moved} legacy partitions to the seq= layout"
            + (f", removed {removed} older copies of re-ingested ones" if removed else "")
            + (f", {recorded} deliveries older than the ledger recorded in it" if recorded else ""))
    return moved
