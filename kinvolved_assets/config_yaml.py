"""Reading one customer config file defensively: bounded bytes, bounded YAML.

Limits (each refusal is a :class:`ConfigFileError` with the key/position and what to fix):

* regular files only, opened without following symlinks and without blocking (a FIFO, a device, a
  socket or a folder named ``*.yaml`` is refused before any byte is read);
* at most :data:`MAX_CONFIG_BYTES` bytes, UTF-8 (a BOM is accepted), no NUL bytes;
* YAML without anchors/aliases, nested at most :data:`MAX_DEPTH` levels, at most :data:`MAX_NODES`
  nodes, no duplicate keys, no tags beyond plain scalars/lists/mappings; dates stay text (the schema
  parses them, so ``2025-13-01`` is a config error, not a crash).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_CONFIG_BYTES = 1024 * 1024      # a 2,000-school config with 10 closure days per school is ~0.5 MiB
MAX_DEPTH = 10                      # the deepest field (non_instructional_days.schools.<id>) is 4 levels
MAX_NODES = 200_000


class ConfigFileError(ValueError):
    """A file that cannot be turned into a mapping: ``key`` is ``(file)`` or ``line L, column C``."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


def read_config_bytes(path: Path) -> bytes:
    """The file's bytes, or ConfigFileError: never follows a symlink, never blocks, never reads more
    than MAX_CONFIG_BYTES + 1 bytes."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigFileError("(file)", f"cannot be read ({_os_reason(exc)})") from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigFileError("(file)",
                              "config files may not be symlinks: copy the file into the config folder")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigFileError("(file)",
                              f"is a {_kind(info.st_mode)}, not a regular file: replace it with a YAML file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigFileError("(file)", f"{info.st_size} bytes; a config is at most {MAX_CONFIG_BYTES} bytes")
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigFileError("(file)", "config files may not be symlinks") from None
        raise ConfigFileError("(file)", f"cannot be opened ({_os_reason(exc)})") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise ConfigFileError("(file)", "was replaced while being read: try again")
        chunks, total = [], 0
        while total <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, min(1 << 16, MAX_CONFIG_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ConfigFileError("(file)", f"cannot be read ({_os_reason(exc)})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError("(file)",
                              f"more than {MAX_CONFIG_BYTES} bytes; a config is at most {MAX_CONFIG_BYTES} "
                              "bytes")
    return data


def decode_config_text(data: bytes) -> str:
    if not data.strip():
        raise ConfigFileError("(file)", "is empty: start from the example in docs/onboarding.md")
    if b"\x00" in data:
        at = data.index(b"\x00")
        raise ConfigFileError("(file)", f"holds NUL bytes (at byte {at}): it is not a text file; "
                              "save the config as UTF-8 YAML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigFileError("(file)",
                              f"is not UTF-8 text (byte {exc.start} is invalid): save it as UTF-8") from None


def _os_reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases, with depth and node limits, refusing duplicate keys and
    keeping timestamps as text."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refusal("YAML aliases (*name) are not allowed in customer configs: write the value out",
                           event)
        if getattr(event, "anchor", None):
            raise _refusal("YAML anchors (&name) are not allowed in customer configs: write the value out",
                           event)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _refusal(f"more than {MAX_NODES} YAML values; a config holds far fewer", event)
        nested = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nested:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _refusal(f"nested deeper than {MAX_DEPTH} levels; see docs/onboarding.md for the "
                               "layout", event)
        try:
            return super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
                seen[key] = key_node.start_mark.line
            except TypeError:
                raise _refusal("a key must be plain text", key_node) from None
            if first is not None:
                raise _refusal(f"duplicate key {printable(key)} (first on line {first + 1}): keep one of "
                               "them", key_node)
        return super().construct_mapping(node, deep=deep)


# timestamps stay strings (the schema parses dates); everything else as SafeLoader resolves it
_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_tag(loader, node):
    raise _refusal(f"YAML tag {printable(node.tag)} is not allowed in customer configs", node)


for _tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:set",
             "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs", None):
    _BoundedLoader.add_constructor(_tag, _refuse_tag)


def _refusal(message: str, where) -> yaml.MarkedYAMLError:
    mark = getattr(where, "start_mark", None)
    return yaml.MarkedYAMLError(problem=message, problem_mark=mark)


def parse_config_yaml(text: str) -> Any:
    """The YAML document, or ConfigFileError with the line and column."""
    try:
        loader = _BoundedLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = exc.problem or exc.context or "not valid YAML"
        prefix = "" if "not allowed" in problem or "duplicate" in problem or "deeper" in problem \
            or "values;" in problem or "key must" in problem else "malformed YAML: "
        raise ConfigFileError(where, f"{prefix}{printable_text(problem)}") from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError, MemoryError) as exc:
        raise ConfigFileError("(file)", f"malformed YAML: {type(exc).__name__}") from None


def printable_text(text: str, limit: int = 120) -> str:
    """One line, control and non-ASCII characters escaped, cut at ``limit``."""
    out = text.encode("ascii", "backslashreplace").decode("ascii")
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in out)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def printable(value: Any, limit: int = 60) -> str:
    """A value as it may appear in a message: repr, one line, escaped, cut."""
    try:
        text = repr(value)
    except ValueError:          # an integer with thousands of digits
        text = "a number with thousands of digits"
    return printable_text(text, limit)


def load_config_mapping(path: Path) -> dict:
    """Bytes → text → YAML → a mapping, or ConfigFileError."""
    return parse_config_mapping(read_config_bytes(path))


def parse_config_mapping(raw: bytes) -> dict:
    """A file's bytes → text → YAML → a mapping, or ConfigFileError."""
    data = parse_config_yaml(decode_config_text(raw))
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigFileError("(top level)", f"must be a mapping of keys to values, got {kind}: "
                              "start from the example in docs/onboarding.md")
    return data
