"""Web and app context shared by Segment events and Shopify orders: IP addresses, user
agents, landing pages and campaign parameters, all functions of the device and visit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import reference as ref
from ..calendar import HOUR
from ..config import SimulationConfig, hash64

H_IP, H_UA = 301, 302

# Every user agent, web slots first: a device row picks one by hash, within its slot.
_UA = np.concatenate([ref.USER_AGENTS["desktop_web"], ref.USER_AGENTS["mobile_web"]])


def join_ints(sep: str, *parts) -> pa.Array:
    """Decimal integers joined by ``sep``, vectorised (``1.2.3.4`` from four arrays)."""
    strings = [pc.cast(pa.array(np.asarray(p, dtype=np.int64)), pa.string()) for p in parts]
    return pc.binary_join_element_wise(*strings, sep)


def device_ip_arrow(cfg: SimulationConfig, household: np.ndarray, device_row: np.ndarray,
                    slot: np.ndarray, at: np.ndarray) -> pa.Array:
    """Home devices share the household's broadband address (which changes yearly);
    phones get a carrier address that changes every hour."""
    mobile = slot > 0
    year = at // (365 * 24 * HOUR)
    hour = at // HOUR
    h = np.where(mobile, hash64(cfg.seed, device_row, hour, H_IP), hash64(cfg.seed, household, year, H_IP))
    first = np.where(mobile, np.array([172, 174, 166, 100])[(h % np.uint64(4)).astype(np.int64)],
                     np.array([73, 98, 24, 71, 68, 76])[(h % np.uint64(6)).astype(np.int64)])
    o2 = ((h >> np.uint64(8)) % np.uint64(256)).astype(np.int64)
    o3 = ((h >> np.uint64(16)) % np.uint64(256)).astype(np.int64)
    o4 = ((h >> np.uint64(24)) % np.uint64(254)).astype(np.int64) + 1
    return join_ints(".", first, o2, o3, o4)


def device_ip(cfg: SimulationConfig, world, device_row: np.ndarray, at: np.ndarray) -> np.ndarray:
    person = device_row // 6
    slot = (device_row % 6) // 2
    household = world.people.household_id[person]
    return device_ip_arrow(cfg, household, device_row, slot, at).to_numpy(zero_copy_only=False)


def user_agent_index(cfg: SimulationConfig, device_row: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Index into :data:`USER_AGENT_VALUES` (-1 for the iOS app, which sends no user agent)."""
    h = hash64(cfg.seed, device_row, H_UA)
    n_desktop = len(ref.USER_AGENTS["desktop_web"])
    n_mobile = len(ref.USER_AGENTS["mobile_web"])
    desktop = (h % np.uint64(n_desktop)).astype(np.int64)
    mobile = n_desktop + (h % np.uint64(n_mobile)).astype(np.int64)
    return np.select([slot == 0, slot == 1], [desktop, mobile], -1)


USER_AGENT_VALUES = _UA


def device_user_agent(cfg: SimulationConfig, device_row: np.ndarray, slot: np.ndarray) -> np.ndarray:
    idx = user_agent_index(cfg, device_row, slot)
    return np.where(idx >= 0, _UA[np.maximum(idx, 0)], None)


def campaign_codes(channel: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The utm_campaign of each visit as (codes, values): seasonal monthly names for paid
    and social channels, ``newsletter`` for email, none for direct, organic and referral.
    Codes are -1 where there is no campaign."""
    month = at.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    key = channel.astype(np.int64) * 100_000 + month
    uniq, codes = np.unique(key, return_inverse=True)
    values = np.empty(len(uniq), dtype=object)
    for j, k in enumerate(uniq):
        c, m = divmod(int(k), 100_000)
        if ref.CHANNEL_SOURCE[c] is None:
            values[j] = None
        elif ref.CHANNEL_NAMES[c] == "email":
            values[j] = "newsletter"
        else:
            label = np.datetime_as_string(np.datetime64(m, "M"), unit="M").replace("-", "_")
            values[j] = f"{ref.CHANNEL_NAMES[c]}_{label}"
    codes = np.where(values[codes] == None, -1, codes)  # noqa: E711
    return codes.astype(np.int64), values


def landing_page_url(channel: np.ndarray, at: np.ndarray) -> np.ndarray:
    codes, values = campaign_codes(channel, at)
    out = np.empty(len(channel), dtype=object)
    for i, c in enumerate(channel):
        src, med = ref.CHANNEL_SOURCE[c], ref.CHANNEL_MEDIUM[c]
        camp = values[codes[i]] if codes[i] >= 0 else None
        out[i] = f"{ref.SITE}/?utm_source={src}&utm_medium={med}&utm_campaign={camp}" if src else f"{ref.SITE}/"
    return out
