"""The customers' reports over HTTP on 127.0.0.1 (``kinvolved serve-reports``, started by ``make ui``).

A page of the Dagster UI (http://) cannot open a ``file://`` link, so the validation report of a
delivery and the district attendance report are linked from the UI as URLs of this server:
``<base>/<customer>/reports/<delivery_date>/validation.html`` and
``<base>/<customer>/attendance_reports/<as_of>/attendance.html`` (+ its PNGs). It serves those two
report folders only (no raw data, no marts, no quarantine), read-only, and nothing else.
``KINVOLVED_REPORTS_URL`` names the base the links are written with (default http://127.0.0.1:3001).
"""

from __future__ import annotations

import html
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from kinvolved_assets.paths import DATE_RE, SEQ_RE, SLUG_RE

DEFAULT_PORT = 3001
URL_ENV = "KINVOLVED_REPORTS_URL"
# report folder of a customer -> the file names served from its dated subfolders
SERVED = {"reports": (".html",), "attendance_reports": (".html", ".png")}
TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png"}


def reports_base_url() -> str:
    return os.environ.get(URL_ENV, f"http://127.0.0.1:{DEFAULT_PORT}").rstrip("/")


def report_url(path: Path | str) -> str | None:
    """The URL of a served report file (``KINVOLVED_HOME/warehouse/<customer>/<folder>/<date>/<file>``,
    or ``…/reports/<date>/seq=<n>/<file>`` for a later delivery of the same date), None for any other path."""
    resolved = Path(path).resolve()
    for depth in (3, 4):
        if len(resolved.parents) > depth and resolved.parents[depth].name == "warehouse":
            parts = resolved.relative_to(resolved.parents[depth]).parts
            if _served_parts(parts) is not None:
                return f"{reports_base_url()}/{'/'.join(quote(p, safe='=') for p in parts)}"
    return None


def _served_parts(parts) -> tuple[str, ...] | None:
    if len(parts) == 5 and parts[1] == "reports" and SEQ_RE.fullmatch(parts[3]):
        seq = (parts[3],)   # a later delivery of the same date: reports/<date>/seq=<n>/
        parts = parts[:3] + parts[4:]
    elif len(parts) == 4:
        seq = ()
    else:
        return None
    customer, folder, dated, name = parts
    if not SLUG_RE.fullmatch(customer) or folder not in SERVED or not DATE_RE.fullmatch(dated):
        return None
    if name.startswith(".") or "/" in name or not name.endswith(SERVED[folder]):
        return None
    return (customer, folder, dated, *seq, name)


def _index(warehouse_root: Path) -> str:
    rows = []
    for customer in sorted(p for p in warehouse_root.glob("*") if p.is_dir() and SLUG_RE.fullmatch(p.name)):
        for folder, name in (("attendance_reports", "attendance.html"), ("reports", "validation.html")):
            found = list((customer / folder).glob(f"*/{name}"))
            found += list((customer / folder).glob(f"*/seq=*/{name}")) if folder == "reports" else []
            for report in sorted(found, reverse=True):
                href = "/" + "/".join(quote(p, safe="=") for p in report.relative_to(warehouse_root).parts)
                rows.append(f'<li><a href="{href}">{html.escape(customer.name)} · {html.escape(folder)} · '
                            f'{html.escape("/".join(report.relative_to(customer / folder).parts[:-1]))}'
                            '</a></li>')
    return ("<!doctype html><meta charset=utf-8><title>Kinvolved reports</title><h1>Kinvolved reports</h1>"
            f"<ul>{''.join(rows) or '<li>no reports yet</li>'}</ul>")


def make_handler(warehouse_root: Path):
    root = warehouse_root.resolve()

    class ReportHandler(BaseHTTPRequestHandler):
        server_version = "kinvolved-reports"

        def do_GET(self):  # noqa: N802 - http.server's name
            path = unquote(urlsplit(self.path).path)
            if path in ("/", "/index.html"):
                return self._send(200, TYPES[".html"], _index(root).encode())
            parts = _served_parts(tuple(p for p in path.split("/") if p))
            file = root.joinpath(*parts) if parts else None
            if file is None or not file.is_file() or root not in file.resolve().parents:
                return self._send(404, "text/plain; charset=utf-8", b"not a report\n")
            return self._send(200, TYPES[file.suffix], file.read_bytes())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - no request lines in the output
            return

    return ReportHandler


def report_server(warehouse_root: Path, port: int = DEFAULT_PORT,
                  host: str = "127.0.0.1") -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), make_handler(warehouse_root))
