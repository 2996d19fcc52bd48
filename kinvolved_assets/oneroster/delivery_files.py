"""A delivery (one ZIP, one folder of CSVs, or a single CSV) and its loading.

    with open_delivery(path) as delivery:
        result = delivery.load("users", warehouse_root, "2024-03-01")
        results = delivery.load_many(["users", "attendance"], warehouse_root, "2024-03-01")
"""

from __future__ import annotations

import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path, PurePosixPath

from ..diskspace import is_disk_full
from ..paths import check_date
from . import scratch, spec
from .discover import (
    DeliveryFile,
    DeliveryLimits,
    Discovery,
    classify,
    extract_zip,
    file_sha256,
    read_manifest,
    scan_folder,
    strip_single_top_folder,
)
from .findings import Finding, finding
from .load import LARGE_FILE_BYTES, LoadResult, load_file
from .roles import primary_role_findings
from .version import detect

__all__ = ["DeliveryFiles", "DeliveryFile", "DeliveryLimits", "LoadResult", "open_delivery",
           "school_year_findings"]


class DeliveryFiles:
    def __init__(self, path: Path, limits: DeliveryLimits = DeliveryLimits(),
                 known_sha256: str | None = None,
                 known_file_hashes: dict[str, tuple[int, str]] | None = None) -> None:
        self.path = Path(path)
        self.limits = limits
        self.known_sha256 = known_sha256   # a ZIP's sha256 already recorded (the archive's): not read again
        self.known_file_hashes = known_file_hashes or {}   # a folder's, hashed while it was archived
        self.sha256 = ""
        self.files: dict[str, DeliveryFile] = {}
        self.findings: list[Finding] = []
        self.manifest: dict[str, str] = {}
        self.fatal = False
        self.unknown_files: list[str] = []
        self.contract: spec.Contract = spec.ONEROSTER_11   # the version the delivery is read as
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._opened = False

    # -- context manager
    def open(self) -> DeliveryFiles:
        if self._opened:
            return self
        self._opened = True
        try:
            self._open()
        except Exception as exc:  # noqa: BLE001 - a delivery never raises on bad data
            if is_disk_full(exc):   # our disk, not the district's file
                raise
            self.fatal = True
            self.findings.append(finding("delivery.bad_zip",
                                         f"the delivery could not be opened ({type(exc).__name__}).",
                                         file=self.path.name))
        return self

    def __enter__(self) -> DeliveryFiles:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- discovery
    def _open(self) -> None:
        """Discover the delivery's members, sort them into entity files, manifest and the rest, tell the
        delivery's version, then match one file per entity of that version and say what is missing."""
        disc = self._discover()
        if disc is None:
            return
        self.sha256 = disc.sha256
        self.findings.extend(disc.findings)
        if disc.fatal:
            self.fatal = True
            return
        candidates, manifest_entry, ignored = self._sort_members(disc)
        if manifest_entry and manifest_entry[0]:
            self.manifest, mf = read_manifest(manifest_entry[1], manifest_entry[0])
            self.findings.extend(mf)
        manifest_member = manifest_entry[0] if manifest_entry else None
        declared = self._declared_modes(manifest_member)

        detected = detect(self.manifest, manifest_member, candidates, ignored)
        self.findings.extend(detected.findings)
        if detected.contract is None:
            self.fatal = True
            return
        self.contract = detected.contract

        self._match_files(disc, candidates, declared)
        self._missing_files(candidates, declared)
        if not candidates:
            self.findings.append(finding("delivery.empty", "the delivery has no OneRoster+ CSV files.",
                                         file=self.path.name))
            self.fatal = True

    def _discover(self) -> Discovery | None:
        """The members of a folder, a ZIP (extracted to a temporary folder) or a single CSV; None
        (the delivery is fatal) for anything else."""
        p = self.path
        if p.is_dir() and not p.is_symlink():
            return scan_folder(p, self.limits, self.known_file_hashes)
        if p.is_file() and (p.suffix.lower() == ".zip" or zipfile.is_zipfile(p)):
            self._tmp = tempfile.TemporaryDirectory(prefix="kv-delivery-")
            return extract_zip(p, Path(self._tmp.name), self.limits, self.known_sha256)
        if p.is_file() and p.suffix.lower() == ".csv":
            n, digest = file_sha256(p)
            return Discovery(root=p.parent, members=[(p.name, p)], sha256=digest,
                             file_hashes={p.name: (n, digest)})
        self.fatal = True
        self.findings.append(finding("delivery.not_found",
                                     f"{p.name!r} is not a ZIP, a folder or a CSV file.", file=p.name))
        return None

    def _sort_members(self, disc: Discovery) -> tuple[dict[str, list[tuple[str, Path]]],
                                                      tuple[str, Path] | None, list[str]]:
        """(candidate files per entity, the manifest (name "" when there are two), the OneRoster files
        recognised and not ingested); every other member is reported and ignored."""
        candidates: dict[str, list[tuple[str, Path]]] = {}
        manifest_entry: tuple[str, Path] | None = None
        ignored: list[str] = []
        for sent, rel, local in strip_single_top_folder(disc.members):
            pp = PurePosixPath(rel)
            if len(pp.parts) > 1:
                self.findings.append(finding("delivery.nested_file",
                                             f"{sent!r} is in a sub-folder; it is ignored. Put the CSV files "
                                             "at the top level.", file=sent))
                continue
            if pp.suffix.lower() != ".csv":
                self.unknown_files.append(sent)
                self.findings.append(finding("delivery.unknown_file",
                                             f"{sent!r} is not a .csv file; it is ignored.", file=sent))
                continue
            kind, names = classify(pp.stem)
            if kind == "manifest":
                if manifest_entry is not None:
                    self.findings.append(finding("delivery.ambiguous_file",
                                                 f"two manifest files ({manifest_entry[0]!r}, {sent!r}); "
                                                 "neither is used.", file=sent))
                    manifest_entry = ("", Path())
                else:
                    manifest_entry = (sent, local)
            elif kind == "entity":
                if len(names) > 1:
                    self.findings.append(finding("delivery.ambiguous_file",
                                                 f"{sent!r} matches several files "
                                                 f"({', '.join(sorted(names))}); rename it.", file=sent))
                    continue
                candidates.setdefault(next(iter(names)), []).append((sent, local))
            elif kind == "ignored":
                ignored.extend(names)
                self.findings.append(finding("delivery.ignored_file",
                                             f"{sent!r} is a OneRoster file we do not ingest; it is ignored.",
                                             file=sent))
            else:
                self.unknown_files.append(sent)
                self.findings.append(finding("delivery.unknown_file",
                                             f"{sent!r} does not match any OneRoster+ file name; it is "
                                             "ignored.", file=sent))
        return candidates, manifest_entry, ignored

    def _match_files(self, disc: Discovery, candidates: dict[str, list[tuple[str, Path]]],
                     declared: dict[str, str]) -> None:
        """``files``: the one candidate of each entity (several for one entity: none is loaded)."""
        for ent_name, cands in candidates.items():
            if len(cands) > 1:
                names = ", ".join(repr(c[0]) for c in cands)[:200]
                for sent, _ in cands:
                    self.findings.append(finding("delivery.ambiguous_file",
                                                 "several files match "
                                                 f"{self.contract.entity(ent_name).file_name} ({names}); "
                                                 "none is loaded. Send exactly one.", file=sent))
                continue
            sent, local = cands[0]
            n, digest = disc.file_hashes.get(sent, (None, None))
            if digest is None:
                n, digest = file_sha256(local)
            mode = declared.get(ent_name)
            if mode == "absent":
                self.findings.append(finding("manifest.declared_absent",
                                             f"manifest.csv says {self.contract.entity(ent_name).file_name} "
                                             f"is absent but {sent!r} is in the delivery; it is loaded.",
                                             file=sent))
            self.files[ent_name] = DeliveryFile(ent_name, sent, local, n, digest, mode)

    def _missing_files(self, candidates: dict[str, list[tuple[str, Path]]], declared: dict[str, str]) -> None:
        """A finding for each file of the delivery's version that is not there (declared or required)."""
        for ent in self.contract.entities:
            if ent.name in self.files or ent.name in candidates:
                continue
            mode = declared.get(ent.name)
            if mode in ("bulk", "delta"):
                self.findings.append(finding("manifest.declared_missing",
                                             f"manifest.csv declares {ent.file_name} as {mode} but the file "
                                             "is not in the delivery.", file=ent.file_name))
            elif not ent.optional_file:
                self.findings.append(finding("delivery.file_missing",
                                             f"{ent.file_name} is not in the delivery; the current "
                                             f"{ent.name} state is unchanged.", file=ent.file_name))

    def _declared_modes(self, member: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.manifest.items():
            if not key.lower().startswith("file."):
                continue
            kind, names = classify(key[5:])
            if kind != "entity" or len(names) != 1:
                continue
            v = value.strip().lower()
            if v not in spec.MANIFEST_MODES:
                self.findings.append(finding("manifest.bad_mode",
                                             f"manifest {key[:60]!r} is not bulk, delta or absent; the mode "
                                             "is inferred from the data.", file=member))
                continue
            out[next(iter(names))] = v
        return out

    # -- loading
    def load(self, entity_name: str, out_root: Path, delivery_date: str) -> LoadResult:
        """One entity of the delivery, read through the contract of the delivery's version (an entity the
        version does not have is never in ``files``)."""
        name = spec.entity(entity_name).name
        check_date(delivery_date)
        df = self.files.get(name)
        if df is None:
            return LoadResult(entity=name, present=False, failed=self.fatal,
                              oneroster_version=self.contract.version)
        if self.fatal:
            return LoadResult(entity=name, file_name=df.member_name, sha256=df.sha256, failed=True,
                              oneroster_version=self.contract.version)
        res = load_file(self.contract.entity(name), df, Path(out_root), delivery_date, self.limits)
        res.oneroster_version = self.contract.version
        if name == "roles" and not res.failed:
            res.findings.extend(primary_role_findings(res, self.limits))
        return res

    def load_many(self, entity_names: list[str] | tuple[str, ...], out_root: Path,
                  delivery_date: str) -> dict[str, LoadResult]:
        """``load`` for several entities, in their order. Files below ``LARGE_FILE_BYTES`` load side by
        side on ``limits.threads`` threads: a small file's time is mostly the fixed cost of planning its
        statements, on one core. Large files load one after the other with all threads meanwhile, each
        once no small file is loading without the process's idle scratch databases
        (``scratch.release_idle``)."""
        sizes = {n: df.size for n in entity_names if (df := self.files.get(spec.entity(n).name)) is not None}
        small = [n for n, size in sizes.items() if size < LARGE_FILE_BYTES]
        workers = min(int(self.limits.threads), len(small))
        pending = {}
        if workers >= 2:
            pool = _loader_pool(workers)
            pending = {n: pool.submit(self.load, n, out_root, delivery_date) for n in small}
        try:
            done = {}
            for n in entity_names:
                if n in pending:
                    continue
                if sizes.get(n, 0) >= LARGE_FILE_BYTES and all(f.done() for f in pending.values()):
                    scratch.release_idle()
                done[n] = self.load(n, out_root, delivery_date)
        finally:   # never return (or raise) while a file is still being written below out_root
            wait(pending.values())
        done.update({n: f.result() for n, f in pending.items()})
        return {n: done[n] for n in entity_names}


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _loader_pool(workers: int) -> ThreadPoolExecutor:
    """The process's loader threads, started once."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            scratch.limit_malloc_arenas()
            pool = _pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kv-load")
        return pool


def open_delivery(path: Path, limits: DeliveryLimits = DeliveryLimits(),
                  known_sha256: str | None = None,
                  known_file_hashes: dict[str, tuple[int, str]] | None = None) -> DeliveryFiles:
    """Open (discover, and extract a ZIP safely) a delivery; use as a context manager so temp files are
    removed. ``known_sha256``: the sha256 of a ZIP's bytes as the archive recorded it (verified when
    the bytes were archived), taken instead of hashing the ZIP again; ``known_file_hashes``: a folder's
    (size, sha256) per relative path, hashed while it was archived (a file whose size differs is
    hashed again)."""
    return DeliveryFiles(Path(path), limits, known_sha256, known_file_hashes).open()


def school_year_findings(results: dict, customer) -> list[Finding]:
    """The configured school year resolved by the dates of the delivery's academic sessions (``customer``:
    anything with a ``school_year``, e.g. a customer config; nothing without one, without
    academicSessions.csv, or when the customer's ``school_years`` gives that year's calendar: its
    first and last day come from there, not from the sessions)."""
    from .school_year import describe, resolve, sessions_from_parquet

    sessions = results.get("academic_sessions")
    year = getattr(customer, "school_year", None)
    if year is None or sessions is None or sessions.failed or sessions.parquet_path is None:
        return []
    if int(year) in (getattr(customer, "school_years", None) or {}):
        return []
    import duckdb

    with duckdb.connect() as con:
        found = sessions_from_parquet(con, str(sessions.parquet_path))
    said = describe(resolve(found, int(year)), found)
    if said is None:
        return []
    rule = {"error": "session.no_school_year"}.get(said[0]) or (
        "session.school_year_from_terms" if "term/semester" in said[1] else "session.school_year_relabelled")
    return [finding(rule, said[1], file=sessions.file_name, column="schoolYear")]
