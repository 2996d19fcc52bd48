"""The provider's side of OAuth 1.0a HMAC-SHA256 (two-legged, as OneRoster 1.1 uses it): oauthlib's
``SignatureOnlyEndpoint`` checks the signature, timestamp and nonce."""

from __future__ import annotations

import hmac
import threading

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, RequestValidator, SignatureOnlyEndpoint


class _Validator(RequestValidator):
    enforce_ssl = False

    def __init__(self, client_id: str, client_secret: str):
        super().__init__()
        self._id, self._secret = client_id, client_secret
        self._nonces: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    @property
    def allowed_signature_methods(self):
        return (SIGNATURE_HMAC_SHA256,)

    @property
    def dummy_client(self):
        return "dummy-client"

    def check_client_key(self, client_key):
        return 0 < len(client_key) <= 255

    def check_nonce(self, nonce):
        return 8 <= len(nonce) <= 64

    def validate_client_key(self, client_key, request):
        return hmac.compare_digest(client_key, self._id)

    def get_client_secret(self, client_key, request):
        return self._secret if hmac.compare_digest(client_key, self._id) else "dummy-secret"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None,
                                     access_token=None):
        with self._lock:
            if (timestamp, nonce) in self._nonces:
                return False
            self._nonces.add((timestamp, nonce))
            return True


_VALIDATORS: dict[tuple[str, str], _Validator] = {}


def signature_valid(uri: str, method: str, headers: dict, client_id: str, client_secret: str) -> bool:
    validator = _VALIDATORS.setdefault((client_id, client_secret), _Validator(client_id, client_secret))
    try:
        valid, _ = SignatureOnlyEndpoint(validator).validate_request(uri, method, None, headers)
    except ValueError:
        return False
    return bool(valid)
