"""Bad customer configs: each one yields one clear error naming the file and the key; the valid customer
next to it still loads, in the CLI and in the Dagster definitions (real child processes)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
import yaml
from reliability_support import PYTHON, record_fault

from kinvolved_assets.generator.config import suggested_config

pytestmark = pytest.mark.reliability


def _valid(customer_id: str) -> dict:
    return suggested_config(customer_id, "tiny", 7, 2026)


def _dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


BOMB = textwrap.dedent("""\
    customer_id: bad_bomb
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)

# file stem -> (text, words the single error must contain)
CASES = {
    "bad_yaml": ("customer_id: bad_yaml\nname: [unclosed\nsis: PowerSchool\n", ("malformed YAML", "line")),
    "bad_unknown": (_dump({**_valid("bad_unknown"), "colour": "blue"}), ("colour", "unknown key")),
    "bad_type": (_dump({**_valid("bad_type"), "school_year": "twenty twenty-six"}),
                 ("school_year", "integer")),
    "bad_tz": (_dump({**_valid("bad_tz"), "timezone": "Mars/Olympus_Mons"}), ("timezone", "IANA")),
    "bad_cron": (_dump({**_valid("bad_cron"), "schedule": {"daily": "61 25 * * *"}}),
                 ("schedule.daily", "cron")),
    "bad_bomb": (BOMB, ("anchors", "not allowed")),
}


@pytest.fixture
def configs(site):
    (site.config_dir / "good.yaml").write_text(_dump(_valid("good")))
    for stem, (text, _) in CASES.items():
        (site.config_dir / f"{stem}.yaml").write_text(text)
    return site


def test_each_bad_config_gives_one_clear_error_and_others_load(configs):
    site = configs
    proc = site.cli("configs", timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("ok     good:") for line in lines), proc.stdout
    for stem, (_, words) in CASES.items():
        errors = [line for line in lines if line.startswith(f"ERROR  {stem}.yaml:")]
        assert len(errors) == 1, (stem, errors)
        for word in words:
            assert word.lower() in errors[0].lower(), (stem, word, errors[0])
        assert "Traceback" not in errors[0] and len(errors[0]) < 300, errors[0]
        record_fault(f"config {stem}", errors[0].removeprefix("ERROR  "))
    assert f"1 valid, {len(CASES)} problems" in proc.stdout

    # the Dagster definitions (what the daemon and the webserver load) keep the valid customer
    code = textwrap.dedent(f"""
        import json, logging
        from pathlib import Path
        records = []
        class H(logging.Handler):
            def emit(self, r): records.append(r.getMessage())
        from kinvolved_assets.definitions import build_definitions   # module import loads once, unobserved
        logging.getLogger("kinvolved").addHandler(H())
        defs = build_definitions(Path({str(site.config_dir)!r}), Path({str(site.home)!r}), settle_seconds=0)
        names = sorted(s.name for s in defs.sensors)
        print(json.dumps({{"sensors": names, "errors": records}}))
    """)
    out = subprocess.run([PYTHON, "-c", code], env=site.env(), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sensors"] == ["deliveries__good", "marts_after_delivery", "marts_after_failed_run"], result
    for stem in CASES:
        assert sum(1 for e in result["errors"] if f"{stem}.yaml" in e) == 1, (stem, result["errors"])


SENSORS = """{ sensorsOrError(repositorySelector: {repositoryLocationName: "kinvolved",
  repositoryName: "__repository__"}) { __typename ... on Sensors { results { name } } } }"""
LOCATION = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS = "{ assetNodes { assetKey { path } groupName description } }"


class Webserver:
    """``dagster-webserver`` alone (no daemon: nothing here needs runs or ticks)."""

    def __init__(self, site):
        from reliability_support import Deployment

        self._deployment = Deployment(site)
        self.port = self._deployment.port

    def start(self) -> None:
        from reliability_support import BIN, wait_for

        d = self._deployment
        logs = d.site.root / "process_logs"
        logs.mkdir(exist_ok=True)
        d.procs["webserver"] = subprocess.Popen(
            [f"{BIN}/dagster-webserver", "-h", "127.0.0.1", "-p", str(d.port), "-w", str(d.workspace)],
            env=d.site.env(), cwd=str(d.site.root), start_new_session=True,
            stdout=open(logs / "webserver.out", "w"), stderr=open(logs / "webserver.err", "w"))
        assert wait_for(d._webserver_up, timeout=180, interval=1), \
            (logs / "webserver.err").read_text()[-3000:]

    def stop(self) -> None:
        self._deployment.stop()


def test_attack_corpus_refused_one_line_each_while_the_others_ingest(site):
    """Every hostile config of the corpus next to two real customers (good, pii): `kinvolved configs`
    prints exactly its expected line (no hang on the FIFO, no traceback); `kinvolved ingest` of both
    valid customers materializes their deliveries; the config claiming pii's landing
    folder ingests nothing; a real webserver loads the code location with every refused file as a
    placeholder asset (group customer_config_errors) whose description is its error, and no sensor of it."""
    from reliability_support import graphql

    from tests.config_corpus import write_corpus

    good = site.add_customer("good", seed=3, days=2)
    pii = site.add_customer("pii", seed=4, days=2)
    expected = write_corpus(site.config_dir, with_valid=False)

    proc = site.cli("configs", timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert sorted(line.split(":")[0] for line in lines if line.startswith("ok ")) == [
        "ok     good", "ok     pii"]
    for name, words in expected.items():
        errors = [line for line in lines if line.startswith(f"ERROR  {name}: ")]
        assert len(errors) == 1, (name, errors)
        assert all(word in errors[0] for word in words), (name, words, errors[0])
        assert len(errors[0]) < 300 and errors[0].isascii(), errors[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    record_fault(f"config attack corpus ({len(expected)} files)",
                 f"{len(expected)} one-line errors; good, pii load")

    evil = site.cli("ingest", "evil", timeout=120)
    assert evil.returncode == 2 and "evil.yaml: landing:" in evil.stderr \
        and "Traceback" not in evil.stderr, evil.stderr
    assert not site.warehouse("evil").exists()

    for customer, generated in (("good", good), ("pii", pii)):
        out = site.cli("ingest", customer, "--no-marts", timeout=600)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        ok = [line.split()[0] for line in out.stdout.splitlines()
              if line.split()[1:2] == ["ok"] and line[0].isdigit()]
        assert ok == sorted(d.delivery_date.isoformat() for d in generated.deliveries), out.stdout
        archived = sorted(p.name for p in (site.home / "archive" / customer).iterdir())
        assert archived == ok and (site.warehouse(customer) / "raw" / "users").is_dir()

    dep = Webserver(site)
    try:
        dep.start()
        entries = graphql(dep.port, LOCATION)["workspaceOrError"]["locationEntries"]
        assert [e["locationOrLoadError"]["__typename"] for e in entries] == ["RepositoryLocation"], entries
        nodes = graphql(dep.port, ASSETS)["assetNodes"]
        placeholders = {n["assetKey"]["path"][1]: n["description"] for n in nodes
                        if n["groupName"] == "customer_config_errors"}
        assert len(placeholders) == len(expected), sorted(placeholders)
        assert "'2025-13-01' is not a date" in placeholders["bad_date"]
        assert "lies inside customer pii's landing folder" in placeholders["evil"]
        sensors = graphql(dep.port, SENSORS)["sensorsOrError"]["results"]
        assert sorted(x["name"] for x in sensors) == ["deliveries__good", "deliveries__pii",
                                                        "marts_after_delivery", "marts_after_failed_run"]
    finally:
        dep.stop()
