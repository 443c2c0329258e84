"""HTTP plumbing the vendor clients share: a session with timeouts, and the mapping of
whole-request failures to the engine's exceptions (base.py).

- 429 -> RateLimited(Retry-After, or the vendor's own hint, or a default);
- 5xx, timeouts, connection errors -> TransientError;
- 401/403 -> AuthenticationFailed, a ConfigurationError: retrying cannot help, the
  credential in the sync YAML (or its environment variable) must change.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import requests

from .base import ConfigurationError, RateLimited, TransientError

DEFAULT_TIMEOUT_SECONDS = 30.0


class AuthenticationFailed(ConfigurationError):
    """The destination refused the credential (HTTP 401/403): fix the sync's settings."""


def retry_after_seconds(response: requests.Response, default: float) -> float:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), else ``default``."""
    value = response.headers.get("Retry-After")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def body_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Http:
    """A requests session bound to one API: base URL, auth headers, timeout, vendor name."""

    def __init__(self, vendor: str, base_url: str, headers: dict[str, str], timeout: float = DEFAULT_TIMEOUT_SECONDS):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"{vendor}: base_url must start with http:// or https:// (got {base_url!r})")
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(headers)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"{self.vendor}: {method} {path}: {type(exc).__name__}: {exc}") from exc

    def raise_for_whole_request(self, response: requests.Response, *, default_retry_after: float = 10.0,
                                auth_hint: str = "check the credential") -> None:
        """Raise for the statuses that say nothing about single rows."""
        status = response.status_code
        if status == 429:
            raise RateLimited(retry_after_seconds(response, default_retry_after),
                              f"{self.vendor}: rate limited ({short(body_of(response), 200)})")
        if status in (401, 403):
            raise AuthenticationFailed(f"{self.vendor}: the API refused the credential "
                                       f"(HTTP {status}: {short(body_of(response))}); {auth_hint}")
        if status >= 500 or status == 408:
            raise TransientError(f"{self.vendor}: HTTP {status}: {short(body_of(response))}")

    def close(self) -> None:
        self.session.close()


def refresh_access_token(vendor: str, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                         timeout: float = DEFAULT_TIMEOUT_SECONDS) -> dict:
    """OAuth 2.0 refresh-token grant (Google, Salesforce): the token endpoint's JSON answer."""
    try:
        response = requests.post(token_url, data={"grant_type": "refresh_token", "client_id": client_id,
                                                  "client_secret": client_secret, "refresh_token": refresh_token},
                                 timeout=timeout)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientError(f"{vendor}: token endpoint: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise TransientError(f"{vendor}: token endpoint: HTTP {response.status_code}")
    if response.status_code != 200:
        raise AuthenticationFailed(f"{vendor}: the token endpoint refused the refresh token "
                                   f"(HTTP {response.status_code}: {short(body_of(response))}); "
                                   "check client_id, client_secret and refresh_token")
    return response.json()
