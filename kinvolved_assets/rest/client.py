"""HTTP client for one customer's OneRoster API: OAuth, throttling, retries, paging to disk.

- OAuth 2 client credentials (requests-oauthlib ``OAuth2Session`` + ``BackendApplicationClient``) or
  OAuth 1.0a HMAC-SHA256 request signing (requests-oauthlib ``OAuth1``).
- At most ``max_requests_per_second``; 429 waits ``Retry-After`` (capped at ``max_retry_after_s``);
  5xx, timeouts and connection errors retry with exponential backoff and jitter, ``max_retries`` times.
- 401: a new token once, then ``ProviderRefused`` ("the provider refused the credentials of customer X").
- Each page's body streams to a gzip file (with its sha256); only one page is parsed at a time.
Nothing here logs or raises with a credential, a token, a header or a response body in it.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from dataclasses import dataclass

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, TokenExpiredError
from requests_oauthlib import OAuth1, OAuth2Session

from kinvolved_assets.rest.config import Credentials, RestConfig

# requests-oauthlib and oauthlib log request bodies and tokens at DEBUG level
for _name in ("requests_oauthlib", "oauthlib", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

MAX_PAGE_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 16


class PullError(RuntimeError):
    """A pull that cannot complete; the message names the customer and what to do, never a secret."""


class ProviderRefused(PullError):
    pass


@dataclass
class RequestRecord:
    """One line of the request log (no headers, no bodies, no credentials)."""

    method: str
    path: str
    query: dict
    status: int | None
    attempt: int
    seconds: float
    outcome: str

    def to_dict(self) -> dict:
        return {"method": self.method, "path": self.path, "query": self.query, "status": self.status,
                "attempt": self.attempt, "seconds": round(self.seconds, 3), "outcome": self.outcome}


class OneRosterClient:
    def __init__(self, customer_id: str, rest: RestConfig, credentials: Credentials, *, log=None,
                 sleep=time.sleep):
        self.customer_id = customer_id
        self.rest = rest
        self._credentials = credentials
        self.log = log or (lambda record: None)
        self._sleep = sleep
        self._last = 0.0
        self._session: requests.Session | None = None
        self.requests_made = 0

    # ---- auth -----------------------------------------------------------------------------------
    def _refused(self, where: str) -> ProviderRefused:
        return ProviderRefused(
            f"the provider refused the credentials of customer {self.customer_id} ({where}); check the "
            f"values of {self.rest.credentials_env.client_id} / {self.rest.credentials_env.client_secret}")

    def _new_session(self) -> requests.Session:
        creds = self._credentials
        if self.rest.auth == "oauth1_hmac_sha256":
            session = requests.Session()
            session.auth = OAuth1(creds.client_id, creds.client_secret,
                                  signature_method=SIGNATURE_HMAC_SHA256)
            return session
        session = OAuth2Session(client=BackendApplicationClient(client_id=creds.client_id),
                                scope=self.rest.scope.split() if self.rest.scope else None)
        started = time.monotonic()
        if self.rest.token_url.startswith("http://"):   # the config allows plain http for 127.0.0.1 only
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        try:
            self._throttle()
            session.fetch_token(self.rest.token_url, client_id=creds.client_id,
                                client_secret=creds.client_secret,
                                timeout=self.rest.timeout_s, include_client_id=False)
            outcome, status = "token", 200
        except OAuth2Error as exc:
            status = getattr(exc, "status_code", None)
            self._log_token(status, started, "refused")
            raise self._refused(f"token endpoint answered {status or type(exc).__name__}") from None
        except requests.RequestException as exc:
            self._log_token(None, started, type(exc).__name__)
            raise PullError(f"customer {self.customer_id}: the token endpoint cannot be reached "
                            f"({type(exc).__name__})") from None
        self._log_token(status, started, outcome)
        return session

    def _log_token(self, status, started, outcome) -> None:
        from urllib.parse import urlparse

        self.log(RequestRecord("POST", urlparse(self.rest.token_url or "").path, {}, status, 1,
                               time.monotonic() - started, outcome))

    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._new_session()
        return self._session

    def refresh(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None
        self.session()

    # ---- pacing ---------------------------------------------------------------------------------
    def _throttle(self) -> None:
        gap = 1.0 / self.rest.max_requests_per_second
        wait = self._last + gap - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        base = self.rest.retry_backoff_s * (2 ** (attempt - 1))
        return min(base, 60.0) * random.uniform(0.5, 1.5)

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After", "")
        seconds = None
        if header.strip().isdigit():
            seconds = float(header.strip())
        elif header:
            try:
                seconds = max(0.0, email.utils.parsedate_to_datetime(header).timestamp() - time.time())
            except (TypeError, ValueError):
                seconds = None
        return min(seconds if seconds is not None else self._backoff(attempt), self.rest.max_retry_after_s)

    # ---- one page -------------------------------------------------------------------------------
    def get_page(self, url: str, params: dict | None, sink) -> requests.Response:
        """GET one page, writing its body to ``sink`` (a PageSink); returns the response (body consumed)."""
        from urllib.parse import urlparse

        path = urlparse(url).path
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self._throttle()
            started = time.monotonic()
            self.requests_made += 1
            try:
                response = self.session().get(url, params=params, timeout=self.rest.timeout_s, stream=True,
                                              headers={"Accept": "application/json"}, allow_redirects=False)
            except TokenExpiredError:      # the token's expires_in passed: a new one, not a refusal
                self.refresh()
                continue
            except (requests.Timeout, requests.ConnectionError) as exc:
                self.log(RequestRecord("GET", path, params or {}, None, attempt, time.monotonic() - started,
                                       type(exc).__name__))
                if attempt > self.rest.max_retries:
                    raise PullError(f"customer {self.customer_id}: {path} did not answer after {attempt} "
                                    "attempts "
                                    f"({type(exc).__name__}, timeout {self.rest.timeout_s:g}s)") from None
                self._sleep(self._backoff(attempt))
                continue
            status = response.status_code
            if status == 200:
                try:
                    sink.write_from(response, MAX_PAGE_BYTES)
                except (requests.RequestException, OSError) as exc:
                    response.close()
                    self.log(RequestRecord("GET", path, params or {}, status, attempt,
                                           time.monotonic() - started,
                                           f"body {type(exc).__name__}"))
                    if attempt > self.rest.max_retries:
                        raise PullError(f"customer {self.customer_id}: {path} body failed after {attempt} "
                                        f"attempts ({type(exc).__name__})") from None
                    self._sleep(self._backoff(attempt))
                    continue
                self.log(RequestRecord("GET", path, params or {}, status, attempt, time.monotonic() - started,
                                       "ok"))
                return response
            response.close()
            outcome = {401: "unauthorized", 429: "rate limited"}.get(status,
                                                                     "server "
                                                                     "error" if status >= 500 else "refused")
            self.log(RequestRecord("GET", path, params or {}, status, attempt, time.monotonic() - started,
                                   outcome))
            if status == 401 or status == 403:
                if refreshed or self.rest.auth == "oauth1_hmac_sha256" and status == 403:
                    raise self._refused(f"{path} answered {status} after a new token")
                refreshed = True
                self.refresh()
                continue
            if status == 429 or status >= 500:
                if attempt > self.rest.max_retries:
                    raise PullError(f"customer {self.customer_id}: {path} answered {status} {attempt} times; "
                                    "the pull was not promoted and the next tick tries again")
                self._sleep(self._retry_after(response, attempt) if status == 429 else self._backoff(attempt))
                continue
            raise PullError(f"customer {self.customer_id}: {path} answered {status}"
                            + (" (redirects are not followed)" if 300 <= status < 400 else "")
                            + "; check rest.base_url and rest.version")
