"""The ``rest:`` block of a customer config, and the credentials it names.

Credentials never live in the YAML: ``credentials_env`` names two environment variables. When a
variable is not set, the file named by ``KINVOLVED_SECRETS_FILE`` (``NAME=value`` lines, outside the
repository, not group/world readable) is read instead. Values are never logged, stored or quoted in
an error; errors name the variable only.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinvolved_assets.oneroster import spec

ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
REPO_ROOT = Path(__file__).resolve().parents[2]
SECRETS_FILE_ENV = "KINVOLVED_SECRETS_FILE"
ROSTER_ENTITIES = ("orgs", "academic_sessions", "courses", "classes", "users", "enrollments", "demographics")
ALL_ENTITIES = tuple(e.name for e in spec.ENTITIES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialsEnv(_Strict):
    client_id: str
    client_secret: str

    @field_validator("client_id", "client_secret")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME_RE.match(value):
            raise ValueError("must name an environment variable (A-Z, 0-9, '_'), not hold the credential "
                             "itself")
        return value


class RestConfig(_Strict):
    base_url: str
    version: Literal["1.1", "1.2"] = "1.1"
    auth: Literal["oauth2_client_credentials", "oauth1_hmac_sha256"] = "oauth2_client_credentials"
    token_url: str | None = None
    scope: str | None = Field(None, max_length=1000)
    page_size: int = Field(1000, ge=1, le=10000)
    max_requests_per_second: float = Field(5.0, gt=0, le=100)
    timeout_s: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)
    retry_backoff_s: float = Field(1.0, ge=0, le=60)
    max_retry_after_s: float = Field(120.0, ge=0, le=3600)
    overlap_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    entities: list[str] = Field(default_factory=lambda: list(ALL_ENTITIES), min_length=1)
    credentials_env: CredentialsEnv

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError("must be an http(s) URL such as https://sis.example.org")
        if parsed.username or parsed.password:
            raise ValueError("may not carry a user or password; credentials come from credentials_env")
        if parsed.query or parsed.fragment:
            raise ValueError("may not carry a query or fragment")
        if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("must use https (plain http only for a provider on 127.0.0.1)")
        return value.rstrip("/")

    @field_validator("entities")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in ALL_ENTITIES]
        if unknown:
            raise ValueError(f"unknown entity {unknown[0]!r}; choose from {', '.join(ALL_ENTITIES)}")
        if len(set(value)) != len(value):
            raise ValueError("lists an entity twice")
        return value

    @model_validator(mode="after")
    def _token_url(self) -> RestConfig:
        if self.auth == "oauth2_client_credentials" and not self.token_url:
            raise ValueError("token_url is required for auth oauth2_client_credentials")
        return self


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never shows the values
        return "Credentials(<hidden>)"

    __str__ = __repr__


class CredentialsError(RuntimeError):
    pass


def _secrets_file() -> dict[str, str]:
    raw = os.environ.get(SECRETS_FILE_ENV)
    if not raw:
        return {}
    path = Path(raw).resolve()
    if path == REPO_ROOT or REPO_ROOT in path.parents:
        raise CredentialsError(f"{SECRETS_FILE_ENV} points inside the repository; keep secrets outside it")
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{SECRETS_FILE_ENV} cannot be read: {type(exc).__name__}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{SECRETS_FILE_ENV} is readable by group or others; chmod 600 it")
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not ENV_NAME_RE.match(name.strip()):
            raise CredentialsError(f"{SECRETS_FILE_ENV} line {number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values


def resolve_credentials(customer_id: str, rest: RestConfig) -> Credentials:
    """The client id and secret named by ``credentials_env`` (environment first, then the secrets file)."""
    found: dict[str, str] = {}
    file_values: dict[str, str] | None = None
    for role in ("client_id", "client_secret"):
        name = getattr(rest.credentials_env, role)
        value = os.environ.get(name)
        if not value:
            file_values = _secrets_file() if file_values is None else file_values
            value = file_values.get(name)
        if not value:
            raise CredentialsError(
                f"customer {customer_id}: {name} (rest.credentials_env.{role}) is not set in the environment "
                f"or in {SECRETS_FILE_ENV}")
        found[role] = value
    return Credentials(found["client_id"], found["client_secret"])
