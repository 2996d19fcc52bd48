"""Landing folders across customers: unique, and never inside another customer's data.

A customer's landing folder (resolved, symlinks followed) may not

* be ``KINVOLVED_HOME`` itself or contain one of its platform folders (``landing/``, ``archive/``,
  ``warehouse/``, ``dagster_home/``, ``logs/``);
* lie inside ``archive/`` or ``warehouse/`` (every customer's archive and warehouse, configured or not),
  ``dagster_home/`` or ``logs/``;
* lie inside ``landing/<other>`` for any other customer id (configured or not);
* equal, contain or lie inside another configured customer's landing folder: both configs are refused
  and each message names the other file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kinvolved_assets.config_messages import ConfigError
from kinvolved_assets.paths import UnsafePathError

if TYPE_CHECKING:
    from kinvolved_assets.customers import CustomerConfig

PLATFORM_FOLDERS = ("landing", "archive", "warehouse", "dagster_home", "logs")
DATA_FOLDERS = {"archive": "archive", "warehouse": "warehouse"}


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _own_rule(config: CustomerConfig, landing: Path, home: Path) -> str | None:
    """Why this landing folder is refused on its own, or None."""
    shown = config.landing
    for folder in PLATFORM_FOLDERS:
        if _inside(home / folder, landing):
            return (f"landing {shown!r} contains the platform folder {folder}/ of KINVOLVED_HOME: "
                    "use a folder of this customer's own, e.g. sftp/<customer_id>")
    rel = landing.relative_to(home).parts
    top = rel[0]
    if top in DATA_FOLDERS and len(rel) > 1:
        owner = rel[1]
        whose = "this customer's own" if owner == config.customer_id else f"customer {owner}'s"
        return (f"landing {shown!r} lies inside {whose} {top} folder: leave landing out "
                f"(default landing/{config.customer_id}) or use a folder of its own")
    if top in ("dagster_home", "logs"):
        return (f"landing {shown!r} lies inside the platform folder {top}/: use a folder of this customer's "
                "own")
    if top == "landing" and rel[1] != config.customer_id:
        return (f"landing {shown!r} lies inside customer {rel[1]}'s landing folder: leave landing out "
                f"(default landing/{config.customer_id}) or use a folder of its own")
    return None


def landing_conflicts(configs: dict[str, CustomerConfig], home: Path) -> list[ConfigError]:
    """Errors for every config whose landing folder breaks a rule above (``configs``: file -> config)."""
    errors: list[ConfigError] = []
    landings: dict[str, Path] = {}
    for file, config in configs.items():
        try:
            landing = config.landing_dir(home)
        except UnsafePathError as exc:
            errors.append(ConfigError(file, "landing", f"{exc} (symlinks may not leave KINVOLVED_HOME)"))
            continue
        problem = _own_rule(config, landing, home) if config.landing is not None else None
        if problem:
            errors.append(ConfigError(file, "landing", problem))
            continue
        landings[file] = landing
    for file, landing in landings.items():
        for other, theirs in landings.items():
            if other == file or not (_inside(landing, theirs) or _inside(theirs, landing)):
                continue
            how = "the same folder as" if landing == theirs else \
                "a folder inside that of" if _inside(landing, theirs) else "a folder holding that of"
            errors.append(ConfigError(file, "landing", (
                f"{landing.relative_to(home)} is {how} {other} ({theirs.relative_to(home)}); every customer "
                "needs a landing folder of its own: both configs are refused")))
    return errors
