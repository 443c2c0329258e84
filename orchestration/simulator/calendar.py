"""Seasonal activity intensity and time sampling.

Shoppers are not uniform in time: the business grows, Black Friday week and December
are busy, July and August are slow, evenings are busier than nights. Every timestamp
the simulator draws goes through :class:`Calendar.sample`, so the same seasonality
shows in sessions, orders, tickets and email engagement.

Times are int64 seconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

DAY = 86_400
HOUR = 3_600

# Share of activity per UTC hour. Most customers are in North America (UTC-5 to
# UTC-8), so the evening peak falls around 00:00-03:00 UTC.
_HOURLY = np.array(
    [7.0, 7.5, 7.0, 6.0, 4.5, 3.0, 2.0, 1.2, 0.8, 0.6, 0.6, 0.8,
     1.2, 2.0, 3.0, 3.8, 4.2, 4.5, 4.6, 4.8, 5.0, 5.4, 6.0, 6.5],
    dtype=np.float64,
)
_HOURLY_CDF = np.concatenate([[0.0], np.cumsum(_HOURLY) / _HOURLY.sum()])


def _black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


def day_factor(day: dt.date) -> float:
    """Relative activity of one calendar day, before the growth trend."""
    factor = 1.0
    bf = _black_friday(day.year)
    delta = (day - bf).days
    if delta == 0:
        factor = 3.2
    elif delta in (1, 2):
        factor = 2.0
    elif delta == 3:  # Cyber Monday
        factor = 2.6
    elif -7 <= delta < 0:
        factor = 1.35
    elif day.month == 12 and day.day <= 20:
        factor = 1.55
    elif day.month == 12 and day.day <= 24:
        factor = 1.2
    elif day.month == 12 and day.day == 25:
        factor = 0.55
    elif day.month in (7, 8):
        factor = 0.72  # summer slump
    elif day.month == 1:
        factor = 0.9
    if day.weekday() >= 5:
        factor *= 1.08
    return factor


class Calendar:
    """Daily activity weights from ``start`` for ``days`` days, with helpers to sample times."""

    def __init__(self, start: int, days: int, growth_per_year: float = 0.35):
        if start % DAY:
            raise ValueError("calendar start must be a UTC midnight")
        self.start = start
        self.days = days
        origin = dt.date(1970, 1, 1) + dt.timedelta(days=start // DAY)
        dates = [origin + dt.timedelta(days=i) for i in range(days)]
        factors = np.array([day_factor(d) for d in dates], dtype=np.float64)
        # Black Friday week through Cyber Monday: the promotion window.
        self.promo = np.array([-7 <= (d - _black_friday(d.year)).days <= 3 for d in dates])
        trend = np.exp(np.log1p(growth_per_year) * np.arange(days) / 365.0)
        self.weights = factors * trend
        self.cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        self.end = start + days * DAY

    def _position(self, t: np.ndarray) -> np.ndarray:
        """Cumulative weight at time ``t`` (linear inside a day)."""
        x = (np.clip(t, self.start, self.end) - self.start) / DAY
        day = np.minimum(np.floor(x).astype(np.int64), self.days - 1)
        return self.cum[day] + (x - day) * self.weights[day]

    def is_promo(self, t: np.ndarray) -> np.ndarray:
        day = np.clip((np.asarray(t) - self.start) // DAY, 0, self.days - 1)
        return self.promo[day]

    def mass(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Activity mass between ``lo`` and ``hi``, in units of an average (weight 1) day."""
        return np.maximum(self._position(hi) - self._position(lo), 0.0)

    def sample(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One time per element in ``[lo, hi)``, following the seasonal and hourly intensity."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.maximum(np.asarray(hi, dtype=np.int64), lo + 1)
        u = rng.random(lo.shape)
        p_lo, p_hi = self._position(lo), self._position(hi)
        target = p_lo + u * (p_hi - p_lo)
        day = np.clip(np.searchsorted(self.cum, target, side="right") - 1, 0, self.days - 1)
        frac = np.clip((target - self.cum[day]) / self.weights[day], 0.0, 1.0)
        # Warp the position within the day through the hourly profile.
        hour = np.clip(np.searchsorted(_HOURLY_CDF, frac, side="right") - 1, 0, 23)
        within = (frac - _HOURLY_CDF[hour]) / (_HOURLY_CDF[hour + 1] - _HOURLY_CDF[hour])
        t = self.start + day * DAY + ((hour + within) * HOUR).astype(np.int64)
        return np.clip(t, lo, hi - 1)
