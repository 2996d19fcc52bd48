"""A delivery's ZIP: members streamed into the archive with fixed timestamps and deflate level, so
that the same district always yields the same bytes."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

from kinvolved_assets.generator.write import Content


def pack_zip(members: list[tuple[str, Content]], target: Path, delivery: dt.date) -> None:
    tmp = target.with_suffix(".zip.part")
    stamp = (delivery.year, delivery.month, delivery.day, 2, 0, 0)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info._compresslevel = 1  # noqa: SLF001 - per-member deflate level
            with zf.open(info, "w", force_zip64=True) as dst:
                if isinstance(content, bytes):
                    dst.write(content)
                else:
                    with open(content, "rb") as src:
                        shutil.copyfileobj(src, dst, 8 << 20)
    tmp.replace(target)
