"""A headless Chromium driven over the DevTools protocol (websocket, no extra package), and a
`dagster dev` started on a free 127.0.0.1 port: the pieces of the UI tests."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio"]
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _get_json(url: str, method: str = "GET", data: bytes | None = None, timeout: float = 5) -> object:
    req = urllib.request.Request(url, method=method, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def graphql(base: str, query: str) -> dict:
    return _get_json(f"{base}/graphql", "POST", json.dumps({"query": query}).encode(), timeout=30)


class DagsterDev:
    """`dagster dev` over an instance; stopped with SIGINT by PID (it ignores SIGTERM)."""

    def __init__(self, home: Path, config_dir: Path, dagster_home: Path, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KINVOLVED_HOME": str(home), "KINVOLVED_CONFIG_DIR": str(config_dir),
               "DAGSTER_HOME": str(dagster_home), "DAGSTER_DISABLE_TELEMETRY": "1"}
        log.parent.mkdir(parents=True, exist_ok=True)
        dagster_home.mkdir(parents=True, exist_ok=True)
        self.log = open(log, "w")
        # run in DAGSTER_HOME as `make ui` does (beside the repo's dagster.yaml template Dagster warns)
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore::FutureWarning", "-m", "dagster", "dev", "-w",
             str(REPO / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(self.port)], cwd=dagster_home, env=env, stdout=self.log,
            stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}; see {self.log.name}")
            try:
                nodes = graphql(self.base, query)["data"]["repositoriesOrError"].get("nodes") or []
                if nodes:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.25)
        raise TimeoutError(f"dagster dev not ready after {timeout}s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Browser:
    """One Chromium page: navigate, wait for text, evaluate JS, screenshot."""

    def __init__(self, profile: Path, width: int = 1440, height: int = 1000):
        from websockets.sync.client import connect

        self.port = free_port()
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                      f"--remote-debugging-port={self.port}",
                                      f"--window-size={width},{height}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                pages = [t for t in _get_json(f"http://127.0.0.1:{self.port}/json/list") if t["type"]
                         == "page"]
                if pages:
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            time.sleep(0.3)
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=30)
        self._id = 0
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def send(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def text(self) -> str:
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
        raise AssertionError(f"page never showed {needles!r}; it shows: {text[:1500]!r}")

    def click_text(self, label: str) -> bool:
        return bool(self.eval(
            "(() => { const el = [...document.querySelectorAll('button, a, [role=tab]')]"
            f".find(e => e.innerText && e.innerText.trim() === {json.dumps(label)}); if (el) {{ el.click(); "
            "return true; } return false; })()"))

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
