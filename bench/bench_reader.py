"""Reader speed: ``delivery.load`` of a large attendance.csv vs a bare DuckDB read_csv -> Parquet.

    python bench/bench_reader.py
        --rows 10000000 [--dir /tmp/kv-bench] [--threads 2] [--repeat 5] [--bad-rows 1]

Generates the CSV once (kept in --dir), then times:
  bare    COPY (SELECT * FROM read_csv(file)) TO parquet   (auto-detected types, same threads)
  reader  open_delivery + DeliveryFiles.load("attendance")  (all-VARCHAR read, checks, casts, rejects, _files)
and prints both figures and the ratio (target <= 1.5, limit 2.0). ``--bad-rows N`` appends N rows with an
impossible date to a copy of the file: the same comparison on the path that writes rejects.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinvolved_assets.oneroster.delivery_files import DeliveryLimits, open_delivery  # noqa: E402


def generate(path: Path, rows: int, threads: int) -> None:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"""
        COPY (
            SELECT 'att-' || i AS sourcedId,
                   'active' AS status,
                   '2024-03-01T12:00:00Z' AS dateLastModified,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE 'cls-' || (i % 5000) END AS classSourcedId,
                   'sch-' || (i % 40) AS schoolSourcedId,
                   'stu-' || (i % 250000) AS userSourcedId,
                   strftime(DATE '2023-09-01' + CAST(i % 180 AS INTEGER), '%Y-%m-%d') AS date,
                   CASE i % 4 WHEN 0 THEN 'AE' WHEN 1 THEN 'AU' WHEN 2 THEN 'T' ELSE 'ED' END AS absenceCode,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE CAST(1 + i % 8 AS VARCHAR) END AS period,
                   CASE WHEN i % 4 = 2 THEN '12' ELSE NULL END AS minutesAbsent,
                   CASE WHEN i % 50 = 0 THEN 'called, parent notified' ELSE NULL END AS comment
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def bare(path: Path, out: Path, threads: int) -> float:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv('{path}')) TO '{out}' (FORMAT parquet)")
    dt = time.perf_counter() - t0
    con.close()
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/kv-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--bad-rows", type=int, default=0,
                    help="also append this many rows with an impossible date (the rejects path)")
    args = ap.parse_args(argv)
    clean_csv = args.dir / f"delivery-{args.rows}" / "attendance.csv"
    clean_csv.parent.mkdir(parents=True, exist_ok=True)
    if not clean_csv.exists():
        t0 = time.perf_counter()
        generate(clean_csv, args.rows, args.threads)
        print(f"generated {args.rows} rows ({clean_csv.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f}s")
    delivery_dir = clean_csv.parent
    if args.bad_rows:
        delivery_dir = args.dir / f"delivery-{args.rows}-bad{args.bad_rows}"
        delivery_dir.mkdir(parents=True, exist_ok=True)
        if not (delivery_dir / "attendance.csv").exists():
            shutil.copyfile(clean_csv, delivery_dir / "attendance.csv")
            with open(delivery_dir / "attendance.csv", "a") as fh:
                for i in range(args.bad_rows):
                    fh.write(f"bad-{i},active,2024-03-01T12:00:00Z,,sch-1,stu-1,2024-02-30,AE,,,\n")
    csv = delivery_dir / "attendance.csv"
    size_mb = csv.stat().st_size / 1e6
    limits = DeliveryLimits(threads=args.threads)
    bare_times, open_times, load_times = [], [], []
    for _ in range(args.repeat):
        out = args.dir / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        bare_times.append(bare(clean_csv, out / "bare.parquet",
                               args.threads))   # a bad date stops the bare read
        t0 = time.perf_counter()
        with open_delivery(delivery_dir, limits) as delivery:
            t1 = time.perf_counter()
            res = delivery.load("attendance", out / "warehouse", "2024-03-01")
            t2 = time.perf_counter()
        open_times.append(t1 - t0)
        load_times.append(t2 - t1)
        assert not res.failed and res.rows == args.rows and res.rejected_rows == args.bad_rows, (res.rows,
                                                                                                 res.rejected_rows)
    b, o, ld = min(bare_times), min(open_times), min(load_times)
    pairs = sorted(lt / bt for lt, bt in zip(load_times, bare_times, strict=True))
    print(f"file: {csv} ({size_mb:.0f} MB, {args.rows} rows), threads={args.threads}, runs={args.repeat}")
    for i, (bt, lt) in enumerate(zip(bare_times, load_times, strict=True), 1):
        print(f"  run {i}: bare {bt:6.2f} s, reader {lt:6.2f} s, ratio {lt / bt:.2f}")
    print(f"bare read_csv -> parquet : {b:7.2f} s  ({args.rows / b / 1e6:.2f} M rows/s)")
    print(f"reader DeliveryFiles.load         : {ld:7.2f} s  ({args.rows / ld / 1e6:.2f} M rows/s)")
    print(f"open_delivery (sha256 scan)  : {o:7.2f} s")
    print(f"ratio load/bare (best)   : {ld / b:.2f}  (target <= 1.5, limit 2.0)")
    print(f"ratio load/bare (median of runs): {pairs[len(pairs) // 2]:.2f}")
    print(f"ratio (open+load)/bare   : {(o + ld) / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
