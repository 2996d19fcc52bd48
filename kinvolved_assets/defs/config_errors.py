"""Bad customer configs, shown where a Dagster user looks first.

Per refused file: a placeholder asset ``customer_config_errors/<file>`` (group
``customer_config_errors``: the first thing in the global asset lineage and the catalog, next to the
customers' assets) whose description is the one-line errors and how to get the customer loaded, with
the errors as metadata. The customer itself is left out (no assets, sensors or schedules).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

from dagster import (
    AssetKey,
    AssetSpec,
    MetadataValue,
)

from kinvolved_assets.customers import ConfigError

CONFIG_ERRORS_GROUP = "customer_config_errors"
CONFIG_ERRORS_PREFIX = "customer_config_errors"
RELOAD = "fix the file, run `kinvolved configs`, then reload the code location (Deployment → Reload)"


def error_name(file: str) -> str:
    """A Dagster name for a config file: lowercase ASCII letters, digits, '_'; a short hash when the
    file name had to be changed."""
    base = re.sub(r"[^a-z0-9_]", "_", file.lower().rsplit(".", 1)[0])[:40].strip("_") or "file"
    plain = re.fullmatch(r"[a-z0-9_]+\.ya?ml", file) is not None
    return (base if plain
            else f"{base}_{hashlib.sha256(file.encode('utf-8', 'backslashreplace')).hexdigest()[:6]}")


def _by_file(errors: list[ConfigError]) -> dict[str, list[ConfigError]]:
    grouped: dict[str, list[ConfigError]] = defaultdict(list)
    for error in errors:
        grouped[error.file].append(error)
    return dict(grouped)


def _names(files) -> dict[str, str]:
    names: dict[str, str] = {}
    for file in sorted(files):
        name = error_name(file)
        if name in names.values():
            name = f"{name}_{hashlib.sha256(file.encode('utf-8', 'backslashreplace')).hexdigest()[:6]}"
        names[file] = name
    return names


def _code(text: str) -> str:
    """Text for an inline code span of the (markdown) description."""
    return text.replace("`", "'")


def config_error_assets(errors: list[ConfigError]) -> list[AssetSpec]:
    grouped = _by_file(errors)
    specs = []
    for file, name in _names(grouped).items():
        lines = [str(e) for e in grouped[file]]
        specs.append(AssetSpec(
            key=AssetKey([CONFIG_ERRORS_PREFIX, name]),
            group_name=CONFIG_ERRORS_GROUP,
            description=f"Customer config `{_code(file)}` is refused; this customer is not loaded. "
                        + " ".join(f"`{_code(line)}`" for line in lines) + f" To load it: {RELOAD}.",
            metadata={"file": file, "errors": MetadataValue.md("\n".join(f"- `{line}`" for line in lines)),
                      "error_count": len(lines)},
            tags={"kinvolved/config": "refused"},
        ))
    return specs
