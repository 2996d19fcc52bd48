"""Delivery discovery: find the OneRoster+ files in a ZIP or folder, safely.

Name matching: the file stem is split into lowercase word tokens (separators ``-``, ``_``, ``.``,
space, camelCase and letter/digit boundaries). A file matches an entity when a contiguous run of
tokens spells the entity's name (``academicSessions``, ``academic_sessions``, ``absence codes``...);
other tokens are a prefix or suffix (a date, a school code, a vendor name). Two files for the same
entity are ambiguous and neither is loaded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..diskspace import is_disk_full
from . import spec
from .findings import Finding, finding, printable

CHUNK = 1 << 20


@dataclass(frozen=True)
class DeliveryLimits:
    max_members: int = 200
    max_uncompressed_bytes: int = 20 * 1024**3          # 20 GiB in total
    max_compression_ratio: float = 200.0                # per member and overall
    ratio_min_bytes: int = 1 << 20                      # ratio only checked above 1 MiB uncompressed
    memory_limit: str = "4GB"                           # DuckDB memory limit per load (at most)
    # a large file's own DuckDB may use this many times the file's size (never below the floor nor
    # above memory_limit): its typed table takes ~1.7x the CSV's bytes, and the ordered Parquet write
    # fills whatever DuckDB allows without getting faster (docs/benchmarks.md)
    load_memory_factor: float = 3.0
    load_memory_floor: int = 160 * 1024**2
    threads: int = 2
    max_findings_per_rule: int = 50                     # per file, rule and column
    max_rejected_fraction: float = 0.5                  # more rejected rows than this blocks the file


@dataclass(frozen=True)
class DeliveryFile:
    entity: str
    member_name: str          # name as sent (inside the ZIP / relative to the folder)
    path: Path                # readable local path
    size: int
    sha256: str
    declared_mode: str | None  # from manifest.csv: bulk | delta | absent | None


def _tokens(stem: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", stem)]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _entity_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for ent in spec.RAW_ENTITIES:
        for k in (ent.file_stem, ent.name, *ent.aliases):
            keys[_norm(k)] = ent.name
    return keys


ENTITY_KEYS = _entity_keys()
# files of any version that are recognised and not ingested (1.2-only ones tell a 1.2 delivery)
IGNORED_KEYS = {_norm(n): n for c in spec.CONTRACTS.values() for n in c.ignored_files}
MANIFEST_KEY = "manifest"


def classify(stem: str) -> tuple[str, set[str]]:
    """('entity'|'ignored'|'manifest'|'unknown', matched names) for a file stem (entities of every
    version)."""
    toks = _tokens(stem)
    spans = {"".join(toks[i:j]) for i in range(len(toks)) for j in range(i + 1, len(toks) + 1)}
    # exact whole-stem match wins over affix matches (``classes`` vs ``classResources``)
    whole = "".join(toks)
    for table, kind in ((ENTITY_KEYS, "entity"), (IGNORED_KEYS, "ignored")):
        if whole in table:
            return kind, {table[whole]}
    if whole == MANIFEST_KEY:
        return "manifest", {"manifest"}
    ents = {ENTITY_KEYS[s] for s in spans if s in ENTITY_KEYS}
    if ents:
        return "entity", ents
    hit = {IGNORED_KEYS[s] for s in spans if s in IGNORED_KEYS}
    if hit:
        return "ignored", hit
    if MANIFEST_KEY in spans:
        return "manifest", {"manifest"}
    return "unknown", set()


def _is_hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" or p.startswith("._") for p in parts)


def _unsafe_member(name: str) -> bool:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    parts = re.split(r"[\\/]", name)
    return any(p == ".." for p in parts)


@dataclass
class Discovery:
    root: Path | None = None
    members: list[tuple[str, Path]] = field(default_factory=list)   # (name as sent, local path)
    findings: list[Finding] = field(default_factory=list)
    fatal: bool = False
    sha256: str = ""
    file_hashes: dict[str, tuple[int, str]] = field(default_factory=dict)


def _hash_copy(src, dst_path: Path | None, budget: int) -> tuple[int, str]:
    """Copy a stream to dst (if given) while hashing; raise OverflowError past ``budget`` bytes."""
    h = hashlib.sha256()
    n = 0
    out = open(dst_path, "wb") if dst_path is not None else None
    try:
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            n += len(chunk)
            if n > budget:
                raise OverflowError
            h.update(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return n, h.hexdigest()


def file_sha256(path: Path) -> tuple[int, str]:
    with open(path, "rb") as fh:
        return _hash_copy(fh, None, 1 << 62)


def extract_zip(zpath: Path, dest: Path, limits: DeliveryLimits,
                known_sha256: str | None = None) -> Discovery:
    """The ZIP's members extracted to ``dest``, each hashed while copied; refused (``fatal``) on an
    unreadable archive, limits exceeded or an unsafe member, checked archive-wide first, then member
    by member, then while extracting. The ZIP's own sha256 is ``known_sha256`` when the caller has it
    (the archive's record), else read here."""
    disc = Discovery(root=dest)
    name = zpath.name
    disc.sha256 = known_sha256 or file_sha256(zpath)[1]
    zf, refused = _open_zip(zpath, name)
    if zf is None:
        disc.findings.append(refused)
        disc.fatal = True
        return disc
    with zf:
        try:
            infos = zf.infolist()
        except Exception:  # noqa: BLE001
            infos = []
        refused = _archive_refusal(infos, limits, name)
        if refused is not None:
            disc.findings.append(refused)
            disc.fatal = True
            return disc
        refusals = _member_refusals(infos, limits, name)
        if refusals:
            disc.findings.extend(refusals)
            disc.fatal = True
            return disc
        budget = limits.max_uncompressed_bytes
        files = [i for i in infos if not i.is_dir()]
        for idx, info in enumerate(files):
            parts = tuple(p for p in re.split(r"[\\/]", info.filename) if p)
            if not parts or _is_hidden(parts):
                continue
            local = dest / f"m{idx:05d}{'.csv' if parts[-1].lower().endswith('.csv') else '.bin'}"
            copied = _extract_member(zf, info, local, budget, limits, name)
            if isinstance(copied, Finding):
                disc.findings.append(copied)
                disc.fatal = True
                return disc
            n, digest = copied
            budget -= n
            member = printable("/".join(parts))   # control characters shown escaped everywhere
            disc.members.append((member, local))
            disc.file_hashes[member] = (n, digest)
    return disc


def _open_zip(zpath: Path, name: str) -> tuple[zipfile.ZipFile | None, Finding | None]:
    """The open archive, or None and why it cannot be read."""
    try:
        return zipfile.ZipFile(zpath), None
    except UnicodeDecodeError:
        return None, finding("delivery.bad_member_name",
                             f"{name} has a member name flagged UTF-8 that is not valid UTF-8; "
                             "re-create the ZIP with UTF-8 names.", file=name)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None, finding("delivery.bad_zip",
                             f"{name} is not a readable ZIP (truncated or corrupt); send it again.",
                             file=name)


def _archive_refusal(infos: list[zipfile.ZipInfo], limits: DeliveryLimits, name: str) -> Finding | None:
    """The first archive-wide limit the ZIP's directory exceeds: members, declared size, ratio."""
    if len(infos) > limits.max_members:
        return finding("delivery.too_many_members",
                       f"the ZIP has {len(infos)} members; the limit is {limits.max_members}.", file=name)
    total_declared = sum(i.file_size for i in infos)
    total_compressed = sum(i.compress_size for i in infos) or 1
    if total_declared > limits.max_uncompressed_bytes:
        return finding("delivery.too_large",
                       f"the ZIP expands to {total_declared} bytes; the limit is "
                       f"{limits.max_uncompressed_bytes}.", file=name)
    if (total_declared > limits.ratio_min_bytes
            and total_declared / total_compressed > limits.max_compression_ratio):
        return finding("delivery.compression_ratio",
                       f"the ZIP expands {total_declared / total_compressed:.0f}x; the "
                       f"limit is {limits.max_compression_ratio:.0f}x (zip bomb?).", file=name)
    return None


def _member_refusals(infos: list[zipfile.ZipInfo], limits: DeliveryLimits, name: str) -> list[Finding]:
    """One finding per member the delivery is refused for (unsafe path, symlink, encrypted, declared
    ratio), in the archive's order."""
    out: list[Finding] = []
    for info in infos:
        mode = info.external_attr >> 16
        shown = repr(info.filename[:120])
        if _unsafe_member(info.filename):
            out.append(finding("delivery.unsafe_path",
                               f"member {shown} has an absolute path or '..'; the delivery is refused.",
                               file=name))
        elif stat.S_ISLNK(mode):
            out.append(finding("delivery.symlink",
                               f"member {shown} is a symbolic link; the delivery is refused.", file=name))
        elif info.flag_bits & 0x1:
            out.append(finding("delivery.encrypted", f"member {shown} is encrypted.", file=name))
        elif (info.file_size > limits.ratio_min_bytes
              and info.file_size / max(info.compress_size, 1) > limits.max_compression_ratio):
            out.append(finding("delivery.compression_ratio",
                               f"member {shown} expands "
                               f"{info.file_size / max(info.compress_size, 1):.0f}x (zip bomb?).",
                               file=name))
    return out


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, local: Path, budget: int,
                    limits: DeliveryLimits, name: str) -> tuple[int, str] | Finding:
    """(bytes, sha256) of one member copied to ``local``, or the finding it is refused for (beyond
    the remaining size budget, unreadable, or expanding past the ratio once read)."""
    shown = repr(info.filename[:120])
    try:
        with zf.open(info) as src:
            n, digest = _hash_copy(src, local, budget)
    except OverflowError:
        return finding("delivery.too_large",
                       f"member {shown} expands beyond the size limit (zip bomb?).", file=name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError) as exc:
        if is_disk_full(exc):   # our disk, not the district's file
            raise
        return finding("delivery.bad_zip",
                       f"member {shown} cannot be extracted (truncated or corrupt ZIP).", file=name)
    if (info.file_size and n > limits.ratio_min_bytes
            and n / max(info.compress_size, 1) > limits.max_compression_ratio):
        return finding("delivery.compression_ratio",
                       f"member {shown} expands {n / max(info.compress_size, 1):.0f}x (zip bomb?).",
                       file=name)
    return n, digest


def scan_folder(folder: Path, limits: DeliveryLimits,
                known: dict[str, tuple[int, str]] | None = None) -> Discovery:
    """A folder's files (no symlinks, no hidden files), each hashed unless ``known`` has its (size,
    sha256) at the size it has now."""
    disc = Discovery(root=folder)
    entries: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        rel_dir = Path(dirpath).relative_to(folder)
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink():
                disc.findings.append(finding("delivery.symlink",
                                             f"{(rel_dir / d).as_posix()!r} is a symbolic link; it is not "
                                             "followed.", file=(rel_dir / d).as_posix()))
                dirnames.remove(d)
            elif d.startswith(".") or d == "__MACOSX":
                dirnames.remove(d)
        for f in filenames:
            rel = (rel_dir / f).as_posix()
            if f.startswith("."):
                continue
            p = Path(dirpath) / f
            if not _utf8(rel):
                disc.findings.append(finding("delivery.bad_file_name",
                                             f"the file name {printable(rel)!r} is not valid UTF-8; the file "
                                             "is ignored. Rename it.", file=printable(rel)))
                continue
            if p.is_symlink() or not p.is_file():
                disc.findings.append(finding("delivery.symlink",
                                             f"{rel!r} is a symbolic link or special file; it is not read.",
                                             file=rel))
                continue
            entries.append((rel, p))
    entries = [(printable(rel), p) for rel, p in entries]
    if len(entries) > limits.max_members:
        disc.findings.append(finding("delivery.too_many_members",
                                     f"the folder has {len(entries)} files; the limit is "
                                     f"{limits.max_members}.", file=folder.name))
        disc.fatal = True
        return disc
    h = hashlib.sha256()
    total = 0
    known = known or {}
    for rel, p in sorted(entries):
        n, digest = known[rel] if rel in known and known[rel][0] == p.stat().st_size else file_sha256(p)
        total += n
        disc.file_hashes[rel] = (n, digest)
        h.update(f"{rel}\0{digest}\n".encode())
    if total > limits.max_uncompressed_bytes:
        disc.findings.append(finding("delivery.too_large",
                                     f"the folder holds {total} bytes; the limit is "
                                     f"{limits.max_uncompressed_bytes}.", file=folder.name))
        disc.fatal = True
    disc.sha256 = h.hexdigest()
    disc.members = sorted(entries)
    return disc


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:   # os.walk gives undecodable bytes as lone surrogates
        return False
    return True


def strip_single_top_folder(members: list[tuple[str, Path]]) -> list[tuple[str, str, Path]]:
    """(member as sent, relative name used for discovery, path); a single top folder is dropped."""
    tops = {m.split("/", 1)[0] for m, _ in members}
    if len(tops) == 1 and all("/" in m for m, _ in members):
        return [(m, m.split("/", 1)[1], p) for m, p in members]
    return [(m, m, p) for m, p in members]


def read_manifest(path: Path, member: str) -> tuple[dict[str, str], list[Finding]]:
    findings: list[Finding] = []
    try:
        raw = path.read_bytes()[: 1 << 20]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        rows = list(csv.reader(io.StringIO(text)))
    except Exception:  # noqa: BLE001
        return {}, [finding("manifest.unreadable",
                            "manifest.csv cannot be read; bulk/delta is inferred from the data.",
                            file=member)]
    manifest: dict[str, str] = {}
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["propertyname", "value"]:
        findings.append(finding("manifest.unreadable",
                                "manifest.csv must start with the header propertyName,value; bulk/delta is "
                                "inferred from the data.", file=member, line=1))
        return {}, findings
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            findings.append(finding("manifest.unreadable", "manifest line needs propertyName,value.",
                                    file=member, line=lineno))
            continue
        manifest[row[0].strip()] = row[1].strip()
    return manifest, findings
