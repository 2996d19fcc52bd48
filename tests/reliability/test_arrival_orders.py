"""Order is the ledger's (issue 15): whatever order deliveries arrive in — an older delivery arriving
late, a same-day correction, deliveries re-copied under other names, a reingest in between — the marts
equal those of the same deliveries ingested one by one in (delivery date, arrival sequence) order.

A property test over seeded random arrival orders of a tiny generated district. Every order is
played for real (``ingest_delivery``, the code every path runs: archive, ledger, checks, promotion)
into a home of its own; its ``raw/`` (each delivery's partitions, by (date, rank of its seq within
the date)) is compared with the sequential run's. The marts are pure functions of ``raw/``, so two
marts builds (the last order and its sequential run) close the loop on the digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest
from reliability_support import rename_school, rewrite_zip

from kinvolved_assets.defs.raw_assets import default_validation
from kinvolved_assets.delivery.ingest import AlreadyIngested, ingest_delivery
from kinvolved_assets.delivery.ledger import Ledger
from kinvolved_assets.marts.reader import content_digest
from kinvolved_assets.paths import partition_files

pytestmark = pytest.mark.reliability

SEEDS = (3, 11, 29)
CUSTOMER = "acme"


def _raw_view(raw: Path) -> str:
    """A digest of raw/: every entity's partitions by (date, rank of the seq within its date) and rows."""
    digest = hashlib.sha256()
    con = duckdb.connect()
    for entity in sorted(p.name for p in raw.iterdir() if p.is_dir() and p.name != "_files"):
        for base in (raw / entity, raw / "_files" / entity):
            parts = partition_files(base)
            for day, seq, file in parts:
                rank = sorted(s for d, s, _ in parts if d == day).index(seq)
                rows = con.execute(f"select * from read_parquet('{file}', hive_partitioning = false) order "
                                   "by all").fetchall()
                digest.update(repr((str(base.relative_to(raw)), day, rank, rows)).encode())
    con.close()
    return digest.hexdigest()


class Player:
    """One home (KINVOLVED_HOME) receiving deliveries in a chosen order."""

    def __init__(self, platform, home: Path, customer):
        self.home, self.customer = home, customer
        self.paths = customer.paths(home)
        self.landing = customer.landing_dir(home)
        self.landing.mkdir(parents=True, exist_ok=True)
        self.validators, self.reporter, _ = default_validation("duckdb")
        self.log: list[str] = []

    def _ingest(self, date: str, **how):
        return ingest_delivery(self.customer, self.paths, date, run_id=f"run-{len(self.log)}",
                               validators=self.validators,
                               reporter=self.reporter, **how)

    def arrive(self, source: Path, date: str, name: str | None = None) -> str:
        """A delivery copied into landing, then ingested the way `kinvolved ingest` and the sensor do."""
        target = self.landing / (name or source.name)
        shutil.copyfile(source, target)
        try:
            outcome = self._ingest(date, delivery_hint=target.name, only_new=True)
        except AlreadyIngested as exc:
            self.log.append(f"skipped {target.name}: already {exc.delivery.state} as #{exc.delivery.seq}")
            return "skipped"
        assert outcome.promoted, (target.name, outcome.blocking_summary())
        self.log.append(f"{date} {target.name} #{outcome.ledger.seq}")
        return "ingested"

    def reingest(self, name: str) -> None:
        with Ledger(self.paths) as ledger:
            delivery = ledger.find(name)[0]
        outcome = self._ingest(delivery.delivery_date, sha256=delivery.sha256)
        assert outcome.promoted, outcome.blocking_summary()
        self.log.append(f"reingest #{delivery.seq}")

    def order(self) -> list[tuple[str, str]]:
        """(date, file name) of the ledger's deliveries in (date, seq) order."""
        with Ledger(self.paths) as ledger:
            return [(d.delivery_date, d.file_name) for d in ledger.deliveries()]


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    """A tiny district: its 4 generated deliveries, plus a same-day correction of the third one."""
    from kinvolved_assets.generator.config import suggested_config
    from kinvolved_assets.generator.generate import generate

    root = tmp_path_factory.mktemp("arrivals")
    generated = generate(CUSTOMER, "tiny", 7, dt.date(2025, 8, 25), 4, root / "deliveries",
                         fmt="zip", school_year=2026)
    deliveries = sorted((d.delivery_date.isoformat(), d.path) for d in generated.deliveries)
    assert len(deliveries) == 4, deliveries
    day, third = deliveries[2]
    correction = third.with_name(third.stem + "_correction.zip")
    with zipfile.ZipFile(deliveries[0][1]) as first:   # the correction re-sends the roster's orgs, a school
                                                  # renamed
        orgs = next(first.read(n) for n in first.namelist() if n.endswith("orgs.csv"))
    rewrite_zip(third, correction, lambda name, text: None if name.endswith("orgs.csv") else text)
    with zipfile.ZipFile(correction, "a") as z:
        z.writestr("orgs.csv", orgs)
    rename_school(correction, "Renamed by the correction")
    config = suggested_config(CUSTOMER, "tiny", 7, 2026)
    return {"root": root, "files": deliveries, "correction": (day, correction), "config": config}


def _customer(config_dir: Path, config: dict):
    import yaml

    from kinvolved_assets.customers import load_customer_configs

    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{CUSTOMER}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return load_customer_configs(config_dir).customers[CUSTOMER]


def _play(platform, home: Path, customer, deliveries, rng: random.Random) -> Player:
    """A random interleaving: the first (bulk) delivery first, the later ones in a shuffled order
    (older order late), the correction after its nightly, one delivery re-copied under another name, one
    reingest at a random point, and the nightly reingested at the end."""
    player = Player(platform, home, customer)
    first, *later = deliveries["files"]
    rng.shuffle(later)
    order = [first, *later]
    day, correction = deliveries["correction"]
    nightly = next(i for i,
                   (d, p) in enumerate(order) if p.name.startswith(correction.stem[: -len("_correction")]))
    order.insert(rng.randint(nightly + 1, len(order)), (day, correction))
    recopied = rng.choice(order)
    order.insert(rng.randint(order.index(recopied) + 1, len(order)), (recopied[0], recopied[1], "copy"))
    reingest_at = rng.randint(1, len(order) - 1)
    for i, item in enumerate(order):
        if i == reingest_at:
            player.reingest(rng.choice(player.order())[1])
        if len(item) == 3:
            assert player.arrive(item[1], item[0], name=f"resent_{item[1].name}") == "skipped"
        else:
            assert player.arrive(item[1], item[0]) == "ingested"
    player.reingest(order[nightly][1].name)   # the nightly re-run after its correction: the correction still
                                              # wins
    return player


def _sequential(platform, home: Path, customer, deliveries, order: list[tuple[str, str]]) -> Player:
    """The same deliveries one by one in the (date, seq) order the ledger of a played run shows."""
    by_name = {p.name: p for _,
               p in deliveries["files"]} | {deliveries["correction"][1].name: deliveries["correction"][1]}
    player = Player(platform, home, customer)
    for date, name in order:
        assert player.arrive(by_name[name], date) == "ingested"
    return player


def test_marts_after_any_arrival_order_equal_the_sequential_ones(platform, instance, deliveries, tmp_path):
    from kinvolved_assets.definitions import build_definitions
    from kinvolved_assets.local_runner import run_marts

    customer = _customer(platform.config_dir, deliveries["config"])
    sequential: dict[tuple, tuple[Player, str]] = {}
    played = []
    for seed in SEEDS:
        player = _play(platform, tmp_path / f"seed{seed}", customer, deliveries, random.Random(seed))
        order = player.order()
        assert len(order) == 5 and any("skipped resent_" in line for line in player.log), player.log
        if tuple(order) not in sequential:
            ref = _sequential(platform, tmp_path / f"sequential{len(sequential)}", customer, deliveries,
                              order)
            sequential[tuple(order)] = (ref, _raw_view(ref.paths.raw))
        ref, ref_view = sequential[tuple(order)]
        assert _raw_view(player.paths.raw) == ref_view, (seed, player.log)
        played.append((seed, player, ref))
    # arrival orders really differed (an older delivery arrived late in at least one)
    assert len({tuple(p.log) for _, p, _ in played}) == len(SEEDS)

    seed, player, ref = played[-1]
    digests = []
    for home in (player.home, ref.home):
        defs = build_definitions(platform.config_dir, home, settle_seconds=0)
        result = run_marts(defs, instance, CUSTOMER)
        assert result.success, home
        digests.append(content_digest(customer.paths(home).marts_db))
    assert digests[0] == digests[1], (seed, player.log)
    with duckdb.connect(str(customer.paths(player.home).marts_db), read_only=True) as con:
        names = {r[0] for r in con.execute("select name from marts.marts.dim_schools").fetchall()}
    assert "Renamed by the correction" in names, names   # the same-day correction was applied last
