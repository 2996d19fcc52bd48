"""Bad customer configs: each one yields one clear error naming the file and the key; the valid customer
next to it still loads, in the CLI and in the Dagster definitions (real child processes)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
import yaml
from reliability_support import PYTHON, record_fault

from kinvolved_assets.generator import suggested_config

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
    "bad_type": (_dump({**_valid("bad_type"), "school_year": "twenty twenty-six"}), ("school_year", "integer")),
    "bad_tz": (_dump({**_valid("bad_tz"), "timezone": "Mars/Olympus_Mons"}), ("timezone", "IANA")),
    "bad_cron": (_dump({**_valid("bad_cron"), "schedule": {"daily": "61 25 * * *"}}), ("schedule.daily", "cron")),
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
    assert result["sensors"] == ["deliveries__good", "marts_after_delivery"], result
    for stem in CASES:
        assert sum(1 for e in result["errors"] if f"{stem}.yaml" in e) == 1, (stem, result["errors"])
