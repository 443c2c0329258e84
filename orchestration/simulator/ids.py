"""Vectorised identifiers in the shapes the real systems use.

Every function takes numpy arrays and returns a ``pyarrow`` string array, so that
millions of identifiers cost milliseconds. An id is a function of what it identifies: a
serial number (Salesforce) or a 64-bit hash of the thing (tokens, ULIDs, event UUIDs), so
the same record gets the same id whenever it is generated. Anonymous ids are random UUID v4
from the chunk's device stream.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
CROCKFORD32 = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)


def _to_arrow(chars: np.ndarray) -> pa.Array:
    """(n, width) uint8 ASCII matrix -> pyarrow string array."""
    n, width = chars.shape
    fixed = np.ascontiguousarray(chars).view(f"S{width}").reshape(n)
    return pa.array(fixed, type=pa.binary(width)).cast(pa.string())


def uuid4(rng: np.random.Generator, n: int, upper: bool = False) -> pa.Array:
    """Random RFC 4122 version-4 UUIDs, e.g. ``1b4e28ba-2fa1-41d2-883f-0016d3cca427``."""
    return _format_uuid(rng.integers(0, 256, size=(n, 16), dtype=np.uint8), upper)


def uuid_from_hashes(high: np.ndarray, low: np.ndarray, upper: bool = False) -> pa.Array:
    """Version-4-shaped UUIDs from two 64-bit hashes: the id of a thing is a function of
    what the thing is, not of the order in which it was generated."""
    raw = np.column_stack([high.astype(">u8"), low.astype(">u8")]).view(np.uint8).reshape(-1, 16)
    return _format_uuid(raw.copy(), upper)


def _format_uuid(raw: np.ndarray, upper: bool) -> pa.Array:
    n = len(raw)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    if upper:
        hexed = np.where(hexed >= ord("a"), hexed - 32, hexed).astype(np.uint8)
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    chars = np.hstack([hexed[:, :8], dash, hexed[:, 8:12], dash, hexed[:, 12:16], dash,
                       hexed[:, 16:20], dash, hexed[:, 20:]])
    return _to_arrow(chars)


def _digits(values: np.ndarray, width: int, alphabet: np.ndarray) -> np.ndarray:
    """Fixed-width big-endian digits of non-negative integers in ``alphabet``'s base."""
    base = len(alphabet)
    v = values.astype(np.uint64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = alphabet[(v % base).astype(np.int64)]
        v //= base
    return out


def _prefix(prefix: str, n: int) -> np.ndarray:
    return np.tile(np.frombuffer(prefix.encode(), dtype=np.uint8), (n, 1))


def _salesforce_suffix(id15: np.ndarray) -> np.ndarray:
    """The 3-character case-safety suffix that turns a 15-character Salesforce id into 18."""
    table = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
    upper = (id15 >= ord("A")) & (id15 <= ord("Z"))
    out = np.empty((len(id15), 3), dtype=np.uint8)
    for block in range(3):
        bits = upper[:, block * 5:(block + 1) * 5].astype(np.int64)
        out[:, block] = table[(bits * (1 << np.arange(5))).sum(axis=1)]
    return out


def salesforce_id(serial: np.ndarray, key_prefix: str) -> pa.Array:
    """18-character Salesforce record ids: key prefix (``003`` contact, ``00Q`` lead, ...),
    pod and serial, then the case-safety checksum."""
    n = len(serial)
    body = np.hstack([_prefix(key_prefix + "5g00000", n), _digits(serial, 5, BASE62)])
    return _to_arrow(np.hstack([body, _salesforce_suffix(body)]))


def token_from_hash(h: np.ndarray, width: int = 11, alphabet: np.ndarray = BASE62, prefix: str = "") -> pa.Array:
    """``prefix`` + ``width`` characters that encode the 64-bit hash ``h`` (the last 11
    base-62 characters hold all 64 bits, so distinct hashes give distinct tokens)."""
    from .config import hash64

    h = h.astype(np.uint64)
    core = _digits(h, min(width, 11), alphabet)
    parts = [_prefix(prefix, len(h))] if prefix else []
    if width > 11:
        parts.append(_digits(hash64(h, 1), width - 11, alphabet))
    parts.append(core)
    return _to_arrow(np.hstack(parts))


def ulid_from_hash(times: np.ndarray, h: np.ndarray) -> pa.Array:
    """ULIDs whose time part is ``times`` (seconds) and random part comes from ``h``."""
    ms = (times.astype(np.int64) * 1000 + (h % np.uint64(1000)).astype(np.int64)).astype(np.uint64)
    return _to_arrow(np.hstack([_digits(ms, 10, CROCKFORD32), _digits(h, 13, CROCKFORD32),
                                _digits(h >> np.uint64(7), 3, CROCKFORD32)]))
