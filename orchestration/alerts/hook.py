"""The alert hook: one JSON POST per failed run to a webhook the operators chose.

``CDP_ALERT_WEBHOOK_URL`` names the webhook (a Slack or Teams incoming webhook, PagerDuty
Events, an internal relay: the body carries a ``text`` line those render as-is, and the
fields a relay can route on). Without it an alert is only logged. ``CDP_DAGSTER_UI_URL``
is where the run's link points (default http://localhost:3000, what ``make dagster``
serves).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests

WEBHOOK_ENV = "CDP_ALERT_WEBHOOK_URL"
UI_ENV = "CDP_DAGSTER_UI_URL"
DEFAULT_UI_URL = "http://localhost:3000"
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3  # a webhook that is down for a few seconds still gets the alert
BACKOFF_SECONDS = 1.0
MESSAGE_LIMIT = 2_000  # a stack of nested errors must not make a body the webhook refuses


class AlertConfigError(ValueError):
    """The alert settings cannot work; the message names the variable and the fix."""


@dataclass(frozen=True)
class RunFailureAlert:
    job: str
    run_id: str
    step: str | None
    error: str
    url: str
    location: str | None = None

    @property
    def text(self) -> str:
        where = f" at step {self.step}" if self.step else ""
        return f"Dagster run of {self.job} failed{where}: {self.error} ({self.url})"

    def body(self) -> dict:
        return {"event": "run_failure", **asdict(self), "text": self.text}


def ui_url() -> str:
    return os.environ.get(UI_ENV, DEFAULT_UI_URL).rstrip("/")


def run_url(run_id: str) -> str:
    return f"{ui_url()}/runs/{run_id}"


def webhook_url() -> str | None:
    """The configured webhook, checked: None when alerts are only logged."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AlertConfigError(f"{WEBHOOK_ENV} must be an http(s) URL, got {url!r}; set it to the webhook's "
                               f"full address or unset it to only log alerts")
    return url


def short(message: str, limit: int = MESSAGE_LIMIT) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def send(alert: RunFailureAlert, log, url: str | None = None, sleep=time.sleep) -> bool:
    """POST the alert (``url``, else the configured webhook); log it in any case. True when
    a webhook took it (2xx). A webhook that keeps failing is logged as an error, not raised:
    one bad webhook must not stop the alerts of the runs after it."""
    target = url if url is not None else webhook_url()
    if target is None:
        log.error(alert.text)
        return False
    log.info(f"alerting {target}: {alert.text}")
    problem = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = requests.post(target, json=alert.body(), timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if 200 <= response.status_code < 300:
                return True
            problem = f"HTTP {response.status_code}: {short(response.text, 200)}"
            if 400 <= response.status_code < 500 and response.status_code != 429:
                break  # the webhook refuses this body: asking again cannot help
        if attempt < ATTEMPTS:
            sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    log.error(f"alert for run {alert.run_id} not delivered to {target} ({problem}); check {WEBHOOK_ENV}")
    return False
