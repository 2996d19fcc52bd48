"""The benchmark's generated district: made once per (scale, days, seed, format) and reused."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import yaml

from bench.measure import MIB

CUSTOMER = "bench"
SCHOOL_YEAR = 2026


def full_year_days() -> int:
    from kinvolved_assets.generator.calendar import build_calendar

    cal = build_calendar(SCHOOL_YEAR)
    return (cal.end - cal.start).days + 1


def prepare_district(work: Path, scale: str, days: int, seed: int, log=print, fmt: str = "loose") -> dict:
    """Generate the district once per (scale, days, seed, format); later runs reuse the files.

    ``fmt="zip"``: one ZIP per delivery, as districts send them (about a seventh of the CSV's bytes
    on disk, twice over: landing and archive); only our own stages read ZIPs."""
    from kinvolved_assets.generator.calendar import build_calendar
    from kinvolved_assets.generator.config import suggested_config
    from kinvolved_assets.generator.generate import generate
    from kinvolved_assets.oneroster import spec

    root = work / (f"{scale}-s{seed}-d{days}" + ("-zip" if fmt == "zip" else ""))
    info_path = root / "district.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if "deliveries_json" in info:   # a district cached before the files list was deliveries.json: again
            return info
    shutil.rmtree(root, ignore_errors=True)
    landing = root / "landing"
    start = build_calendar(SCHOOL_YEAR).start
    log(f"generating {scale} district, {days} days from {start} (seed {seed}) ...")
    res = generate(CUSTOMER, scale, seed, start, days, landing, fmt=fmt, school_year=SCHOOL_YEAR)
    stems = {e.file_stem.lower(): e.name for e in spec.ENTITIES}
    deliveries = []
    csv_bytes = 0
    for d in res.deliveries:
        if fmt == "zip":
            with zipfile.ZipFile(d.path) as zf:
                members = zf.infolist()
            names = sorted(Path(i.filename).name for i in members)
            csv_bytes += sum(i.file_size for i in members if i.filename.lower().endswith(".csv"))
        else:
            names = sorted(p.name for p in d.path.iterdir())
            csv_bytes += sum(p.stat().st_size for p in d.path.rglob("*.csv"))
        files = {stems[Path(n).stem.lower()]: n for n in names if Path(n).stem.lower() in stems}
        deliveries.append({"date": d.delivery_date.isoformat(), "name": d.path.name, "files": files,
                      "modes": {e: d.mode for e in files}, "rows": d.rows})
    (root / "deliveries.json").write_text(json.dumps(deliveries))
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / f"{CUSTOMER}.yaml").write_text(yaml.safe_dump(suggested_config(CUSTOMER, scale, seed,
                                                                                 SCHOOL_YEAR),
                                                                 sort_keys=False))
    info = {"scale": scale, "days": days, "seed": seed, "root": str(root), "landing": str(landing),
            "deliveries_json": str(root / "deliveries.json"), "config_dir": str(config_dir),
            "deliveries": len(deliveries),
            "rows": sum(res.counts.values()), "rows_by_entity": res.counts,
            "csv_mib": round(csv_bytes / MIB, 1),
            "final": res.final, "generate_seconds": round(res.elapsed_seconds, 1), "format": fmt,
            "landing_mib": round(sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / MIB, 1)}
    info_path.write_text(json.dumps(info, indent=1))
    return info
