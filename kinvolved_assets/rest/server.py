"""A real local OneRoster provider (``kinvolved serve-oneroster``): HTTP on 127.0.0.1 only.

Serves a generated district (``district.DistrictState``) through both API versions with a real
OAuth 2 client-credentials token endpoint (or OAuth 1.0a HMAC-SHA256 request signing, checked with
oauthlib), ``limit``/``offset`` paging with ``X-Total-Count`` and ``Link: rel="next"``, and filters.
Fault switches (``Faults``) make it misbehave the way providers do. With ``admin=True`` the test
endpoints ``POST /_admin/faults`` and ``POST /_admin/as-of`` change switches and the as-of date.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from kinvolved_assets.rest import binding
from kinvolved_assets.rest.district import DistrictState
from kinvolved_assets.rest.filters import FilterError, parse_filter
from kinvolved_assets.rest.oauth1_check import signature_valid

TOKEN_PATH = "/oauth/token"
MAX_LIMIT = 10000
MAX_BODY = 16 * 1024
_ROUTES = {(version,
            binding.endpoint(version, e)): e for version in binding.PREFIX for e in binding.ENDPOINTS}


@dataclass
class Faults:
    rate_limit: int = 0              # the next N API requests answer 429 with Retry-After
    retry_after: int = 1
    errors_500: int = 0              # the next N API requests answer 500
    slow: int = 0                    # the next N API requests wait slow_seconds before answering
    slow_seconds: float = 2.0
    expire_tokens_after: int | None = None   # after N more API requests every issued token is revoked
    modify_between_pages: str | None = None  # entity: after its first page, one record is re-saved
    modify_times: int = 1                    # ... on this many pulls of the entity
    reject_tokens: bool = False              # every API request answers 401 (a revoked client)
    link_header: bool = True                 # False: no Link header, the client pages by X-Total-Count
    fired: dict = field(default_factory=dict)

    def fire(self, name: str) -> None:
        self.fired[name] = self.fired.get(name, 0) + 1


@dataclass
class Provider:
    state: DistrictState
    client_id: str
    client_secret: str
    auth: str = "oauth2_client_credentials"
    token_seconds: int = 3600
    admin: bool = False
    faults: Faults = field(default_factory=Faults)
    tokens: dict = field(default_factory=dict)        # token -> expiry (monotonic)
    issued: list = field(default_factory=list)        # every token handed out (tests scan for them)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server_version = "KinvolvedLocalOneRoster/1"
    provider: Provider

    def log_message(self, format, *args):  # noqa: A002 - no access log (paths carry no secrets, but quiet)
        return

    # ---- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    # ---- token endpoint -------------------------------------------------------------------------
    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        try:
            body = self._body()
        except ValueError:
            return self._send(413, {"error": "invalid_request"})
        if url.path.startswith("/_admin/") and self.provider.admin:
            return self._admin(url.path, body)
        if url.path != TOKEN_PATH or self.provider.auth != "oauth2_client_credentials":
            return self._send(404, {"error": "not_found"})
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = self.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return self._send(401, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return self._send(400, {"error": "unsupported_grant_type"})
        p = self.provider
        if not (hmac.compare_digest(client_id, p.client_id) and hmac.compare_digest(client_secret,
                                                                                    p.client_secret)):
            return self._send(401, {"error": "invalid_client"},
                              {"WWW-Authenticate": 'Basic realm="oneroster"'})
        token = secrets.token_urlsafe(32)
        with p.lock:
            p.tokens[token] = time.monotonic() + p.token_seconds
            p.issued.append(token)
        return self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": p.token_seconds,
                                "scope": form.get("scope", "")}, {"Cache-Control": "no-store"})

    def _admin(self, path: str, body: bytes):
        payload = json.loads(body or b"{}")
        p = self.provider
        if path == "/_admin/faults":
            with p.lock:
                for key, value in payload.items():
                    if key == "fired" or not hasattr(p.faults, key):
                        return self._send(400, {"error": f"unknown fault {key}"})
                    setattr(p.faults, key, value)
            return self._send(200, asdict(p.faults))
        if path == "/_admin/as-of":
            applied = p.state.advance(dt.date.fromisoformat(payload["date"]))
            return self._send(200, {"as_of": str(p.state.as_of), "applied": applied})
        return self._send(404, {"error": "not_found"})

    # ---- API ------------------------------------------------------------------------------------
    def _authorized(self) -> bool:
        p = self.provider
        header = self.headers.get("Authorization", "")
        if p.faults.reject_tokens:
            p.faults.fire("reject_tokens")
            return False
        if p.auth == "oauth1_hmac_sha256":
            uri = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
            return signature_valid(uri, "GET", dict(self.headers), p.client_id, p.client_secret)
        if not header.lower().startswith("bearer "):
            return False
        token = header[7:].strip()
        with p.lock:
            expiry = p.tokens.get(token)
            return expiry is not None and expiry > time.monotonic()

    def _faults_before(self) -> bool:
        """Apply the switches that answer instead of the data; True when an answer was sent."""
        p, f = self.provider, self.provider.faults
        with p.lock:
            p.requests += 1
            slow = f.slow > 0
            f.slow -= slow
            fail = f.errors_500 > 0 and not slow
            f.errors_500 -= fail
            limited = f.rate_limit > 0 and not (slow or fail)
            f.rate_limit -= limited
            if f.expire_tokens_after is not None:
                f.expire_tokens_after -= 1
                if f.expire_tokens_after < 0:
                    p.tokens.clear()
                    f.expire_tokens_after = None
                    f.fire("expire_tokens")
        if slow:
            f.fire("slow")
            time.sleep(float(f.slow_seconds))
        if fail:
            f.fire("errors_500")
            self._send(500, {"error": "internal"})
        elif limited:
            f.fire("rate_limit")
            self._send(429, {"error": "rate_limited"}, {"Retry-After": str(f.retry_after)})
        return fail or limited

    def do_GET(self):  # noqa: N802
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        route = next(((v, e) for (v, ep), e in _ROUTES.items() if ep == path), None)
        if route is None:
            return self._send(404, {"error": "not_found"})
        if self._faults_before():
            return None
        if not self._authorized():
            return self._send(401, {"imsx_codeMajor": "failure", "imsx_description": "unauthorized"},
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        version, entity = route
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            limit = min(max(int(query.get("limit", 100)), 1), MAX_LIMIT)
            offset = max(int(query.get("offset", 0)), 0)
            predicate = parse_filter(query.get("filter"))
        except (ValueError, FilterError) as exc:
            return self._send(400, {"imsx_codeMajor": "failure", "imsx_description": str(exc)[:200]})
        rows = self.provider.state.select(entity, predicate, cache_key=query.get("filter", ""))
        page = rows[offset: offset + limit]
        base = f"http://{self.headers.get('Host', '127.0.0.1')}{binding.PREFIX[version]}"
        headers = {"X-Total-Count": str(len(rows))}
        if offset + limit < len(rows) and self.provider.faults.link_header:
            following = urlencode({**query, "offset": offset + limit, "limit": limit})
            headers["Link"] = f'<{base}/{binding.ENDPOINTS[entity]}?{following}>; rel="next"'
        body = {binding.collection_key(entity): [binding.to_json(entity, r, version, base) for r in page]}
        self._send(200, body, headers)
        self._modify_after_page(entity, rows, page, offset, predicate, len(rows) > offset + limit)
        return None

    def _modify_after_page(self, entity, rows, page, offset, predicate, more: bool) -> None:
        f = self.provider.faults
        if f.modify_between_pages != entity or offset != 0 or not more:
            return
        outside = self.provider.state.select(entity, lambda r: not predicate(r))
        target = (outside or page)[0]["sourcedId"]
        self.provider.state.touch(entity, target)
        f.modify_times -= 1
        if f.modify_times <= 0:
            f.modify_between_pages = None
        f.fire("modify_between_pages")


class ProviderServer:
    """A provider on 127.0.0.1 in a background thread; ``with`` starts and stops it."""

    def __init__(self, district: Path, client_id: str, client_secret: str, *, as_of: dt.date | None = None,
                 port: int = 0, auth: str = "oauth2_client_credentials", admin: bool = False,
                 token_seconds: int = 3600):
        state = DistrictState(district)
        state.advance(as_of or state.deliveries[-1][0])
        self.provider = Provider(state, client_id, client_secret, auth=auth, admin=admin,
                                 token_seconds=token_seconds)
        handler = type("Handler", (_Handler,), {"provider": self.provider})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="oneroster-provider")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> ProviderServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
