"""Which OneRoster version a delivery is: from manifest.csv, else from its files and users.csv header.

Signals: the manifest's ``oneroster.version``; files only 1.2 has (roles.csv, userProfiles.csv,
userResources.csv...); the users.csv header (``role``/``orgSourcedIds`` only in 1.1,
``userMasterIdentifier``, ``primaryOrgSourcedId``... only in 1.2). The manifest decides when it
names 1.1 or 1.2 and no file disagrees; without it the files decide, and a delivery with no signal is
read as 1.1. Signals that disagree (a 1.2 users.csv under a 1.1 manifest, roles.csv beside a 1.1
users.csv...) and a OneRoster 1.0 manifest are refused with one error; nothing is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import spec
from .decode import read_header
from .findings import Finding, finding


@dataclass
class Detection:
    contract: spec.Contract | None                    # None: the delivery is refused
    findings: list[Finding] = field(default_factory=list)


def users_layout(path: Path, member: str) -> tuple[str | None, list[str]]:
    """('1.1' | '1.2' | None, the telling columns) from the header of users.csv."""
    hdr, _ = read_header(path, member)
    if hdr is None:
        return None, []
    cols = {h.strip().lower() for h in hdr.names}
    only11 = sorted(c for c in spec.USERS_11_ONLY_COLUMNS if c.lower() in cols)
    only12 = sorted(c for c in spec.USERS_12_ONLY_COLUMNS if c.lower() in cols)
    if only11 and not only12:
        return "1.1", only11
    if only12 and not only11:
        return "1.2", only12
    if only11 and only12:
        return "mixed", only11 + only12
    return None, []


def detect(manifest: dict[str, str], manifest_member: str | None,
           entity_files: dict[str, list[tuple[str, Path]]],
           ignored_files: list[str]) -> Detection:
    """The contract to read the delivery with. ``entity_files``: entity -> [(member, path)] found;
    ``ignored_files``: the recognised, not ingested file names found."""
    declared = manifest.get("oneroster.version", "").strip()
    out: list[Finding] = []
    mfile = manifest_member
    if declared.startswith("1.0"):
        return Detection(None,
                         [finding("delivery.version_unsupported",
                                  "manifest oneroster.version is 1.0; OneRoster 1.0 is not accepted. Export "
                                  "OneRoster 1.1 or 1.2 CSV (with the Kinvolved extension files).",
                                  file=mfile)])
    if declared and not declared.startswith(("1.1", "1.2")):
        out.append(finding("manifest.version",
                           f"manifest oneroster.version {declared[:20]!r} is not 1.1 or 1.2; the version is "
                           "read from the files.", file=mfile))
        declared = ""
    declared = declared[:3]
    # what the files say: 1.2-only files, and the users.csv header
    v12_files = sorted({spec.entity(e).file_name for e in entity_files if e
                        not in spec.ONEROSTER_11.entity_names}
                       | {f"{n}.csv" for n in ignored_files if n in spec.IGNORED_ONEROSTER_12_FILES})
    layout, telling = None, []
    users = entity_files.get("users", [])
    if len(users) == 1:
        layout, telling = users_layout(users[0][1], users[0][0])
    said: dict[str, list[str]] = {"1.1": [], "1.2": []}
    if v12_files:
        said["1.2"].append(f"it has the 1.2-only files {', '.join(v12_files)[:120]}")
    if layout == "mixed":
        return Detection(None,
                         out + [finding("delivery.version_mixed",
                                        "users.csv has columns of both OneRoster 1.1 and 1.2 "
                                        f"({', '.join(telling)}); send one version's layout.",
                                        file=users[0][0], line=1)])
    if layout:
        what = "role/orgSourcedIds" if layout == "1.1" else ", ".join(telling[:3]) + (", "
                                                                                      "..." if len(telling)
                                                                                      > 3 else "")
        said[layout].append(f"users.csv has the {layout} columns {what}")
    if declared:
        said[declared].insert(0, f"manifest oneroster.version is {declared}")
    if said["1.1"] and said["1.2"]:
        msg = (f"the delivery mixes OneRoster versions: 1.1 because {'; '.join(said['1.1'])}, but 1.2 "
               f"because {'; '.join(said['1.2'])}. Send every file of one version (and a manifest that names "
               "it).")
        return Detection(None,
                         out + [finding("delivery.version_mixed", msg,
                                        file=mfile or (users[0][0] if users else None))])
    version = "1.2" if said["1.2"] else "1.1"
    why = "; ".join(said[version]) or "it has no 1.2-only file or column"
    out.append(finding("delivery.version", f"read as OneRoster {version} because {why}.", file=mfile))
    return Detection(spec.contract(version), out)
