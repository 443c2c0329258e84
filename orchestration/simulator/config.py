"""Simulation parameters and the determinism contract.

The simulated world is a pure function of ``(seed, profiles, as_of)``: the same three
values give identical raw table contents on any machine (with the locked library versions). People are generated in fixed
chunks of :data:`CHUNK_SIZE` (part of the contract: changing it changes the data), and
recurring activity in fixed 30-day epochs, each chunk and epoch from its own random
stream, so that any time window can be produced without generating anything after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .calendar import DAY, Calendar

CHUNK_SIZE = 20_000
EPOCH_DAYS = 30
HISTORY_DAYS = 730
# The calendar reaches this far past ``as_of`` so that increments can run for years.
FUTURE_DAYS = 5 * 365
NEVER = np.iinfo(np.int64).max // 4  # "no such time": far beyond any calendar
# The simulated calendar must fit comfortably in 64-bit seconds and in DuckDB timestamps.
MIN_AS_OF = dt.date(2000, 1, 1)
MAX_AS_OF = dt.date(2199, 12, 31)

# Newcomers per 30 days after as_of, as a share of the initial population.
NEWCOMERS_PER_EPOCH = 0.03

PERSONAS = (
    "anonymous_visitor",
    "prospect",
    "one_time_buyer",
    "repeat_buyer",
    "regular_subscriber",
    "vip_subscriber",
    "at_risk_subscriber",
    "churned_high_value",
)
(ANON, PROSPECT, ONE_TIME, REPEAT, REGULAR_SUB, VIP_SUB, AT_RISK_SUB, CHURNED_HV) = range(8)
SUBSCRIBER_PERSONAS = (REGULAR_SUB, VIP_SUB, AT_RISK_SUB, CHURNED_HV)
BUYER_PERSONAS = (ONE_TIME, REPEAT, REGULAR_SUB, VIP_SUB, AT_RISK_SUB, CHURNED_HV)

# One value per persona, in PERSONAS order.
PERSONA_SHARE = np.array([0.12, 0.63, 0.11, 0.045, 0.045, 0.015, 0.015, 0.02])
NEWCOMER_SHARE = np.array([0.15, 0.40, 0.25, 0.10, 0.10, 0.0, 0.0, 0.0])
# Repeat orders per 30 days while the person is an active customer.
ORDER_RATE = np.array([0.0, 0.0, 0.0, 0.2, 0.12, 0.6, 0.4, 0.7])
# Multiplier on basket size and value.
BASKET_MULT = np.array([1.0, 1.0, 1.0, 1.0, 1.1, 1.9, 1.0, 1.7])
# Browse sessions per 30 days while active.
SESSION_RATE = np.array([0.25, 0.3, 0.1, 0.25, 0.2, 0.6, 0.3, 0.4])
# Support tickets per 30 days while a customer.
TICKET_RATE = np.array([0.0, 0.002, 0.012, 0.018, 0.022, 0.035, 0.02, 0.03])
# Probability of opening a marketing email (before any decline).
OPEN_RATE = np.array([0.0, 0.17, 0.14, 0.24, 0.30, 0.52, 0.30, 0.22])
NEWSLETTER_P = np.array([0.0, 0.6, 0.18, 0.28, 0.35, 0.55, 0.4, 0.4])
ACCOUNT_P = np.array([0.0, 0.05, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
LEAD_P = np.array([0.0, 0.10, 0.02, 0.03, 0.03, 0.05, 0.03, 0.05])
CONTACT_P = np.array([0.0, 0.0, 0.02, 0.04, 0.05, 0.25, 0.06, 0.20])


@dataclass(frozen=True)
class SimulationConfig:
    seed: int
    profiles: int
    as_of: int  # epoch seconds; a UTC midnight

    @staticmethod
    def create(seed: int, profiles: int, as_of: dt.date | dt.datetime | str | None) -> "SimulationConfig":
        if isinstance(profiles, bool) or not isinstance(profiles, int) or profiles < 1:
            raise ValueError(f"--profiles must be a positive whole number, got {profiles!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
            raise ValueError(f"--seed must be a whole number from 0 to 2^63-1, got {seed!r}")
        if as_of is None:
            day = dt.datetime.now(dt.timezone.utc).date()
        elif isinstance(as_of, str):
            try:
                day = dt.date.fromisoformat(as_of)
            except ValueError as exc:
                raise ValueError(f"--as-of must be a date like 2026-11-01, got {as_of!r}") from exc
        elif isinstance(as_of, dt.datetime):
            day = as_of.date()
        else:
            day = as_of
        if not MIN_AS_OF <= day <= MAX_AS_OF:
            raise ValueError(f"--as-of must be between {MIN_AS_OF} and {MAX_AS_OF}, got {day}")
        epoch_day = (day - dt.date(1970, 1, 1)).days
        return SimulationConfig(seed=seed, profiles=profiles, as_of=epoch_day * DAY)

    @property
    def start(self) -> int:
        return self.as_of - HISTORY_DAYS * DAY

    def calendar(self) -> Calendar:
        return _calendar(self.start, HISTORY_DAYS + FUTURE_DAYS)

    @property
    def newcomers_per_epoch(self) -> int:
        return max(1, round(self.profiles * NEWCOMERS_PER_EPOCH))

    def epoch_of(self, t: int) -> int:
        return int((t - self.start) // (EPOCH_DAYS * DAY))

    def epoch_bounds(self, epoch: int) -> tuple[int, int]:
        lo = self.start + epoch * EPOCH_DAYS * DAY
        return lo, lo + EPOCH_DAYS * DAY


_CALENDARS: dict[tuple[int, int], Calendar] = {}


def _calendar(start: int, days: int) -> Calendar:
    key = (start, days)
    if key not in _CALENDARS:
        _CALENDARS[key] = Calendar(start, days)
    return _CALENDARS[key]


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hash64(*keys) -> np.ndarray:
    """A well-mixed 64-bit hash of integer keys (arrays broadcast). Used where a draw must
    depend only on *what* it is for (a record, a field), never on generation order."""
    with np.errstate(over="ignore"):
        h = np.uint64(0x243F6A8885A308D3)
        for key in keys:
            h = _splitmix(np.bitwise_xor(h, np.asarray(key).astype(np.uint64)))
        return h


def hash_uniform(*keys) -> np.ndarray:
    """Uniform [0, 1) draws from :func:`hash64`."""
    return (hash64(*keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def stream(cfg: SimulationConfig, *keys: int) -> np.random.Generator:
    """An independent random stream for one unit of work (a chunk, a component, an epoch)."""
    return np.random.default_rng([cfg.seed, *keys])
