"""What every simulated connector shares: sync windows, record histories and table building.

A source system's records are described as :class:`Records`: their keys, the person
each is about, the times at which each record changed (creation first) and a function
that gives a record's state as of any time. From that, :func:`upsert_rows` produces what
a Fivetran sync of a window ``(lo, hi]`` writes for an ordinary table (every record
that changed in the window, in its state at ``hi``), and :func:`history_rows` what it
writes for a history-mode table (one row per version, the previous version closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.raw_tables import RawTable

from ..config import NEVER, hash_uniform

END_OF_TIME = 253_402_300_799  # 9999-12-31 23:59:59, Fivetran's open-ended _fivetran_end
MISSING_DATE = -(10 ** 9)       # "no date" in day-number arrays


@dataclass(frozen=True)
class Window:
    """A sync: everything that happened in ``(lo, hi]``, written just after ``hi``."""

    lo: int
    hi: int
    seed: int

    def synced_at(self, *keys) -> np.ndarray:
        """``_fivetran_synced`` (and Segment's ``uuid_ts``): within the second after the window
        closes, spread over its microseconds per record. Window ends are whole seconds, so
        every row of a later sync is stamped later than every row of an earlier one, which
        is what lets a merge keep the newest state of a record."""
        return self.hi + hash_uniform(self.seed, self.hi, *keys, 7) * 0.999 + 0.0005

    def contains(self, t: np.ndarray) -> np.ndarray:
        return (t > self.lo) & (t <= self.hi)


@dataclass
class Records:
    """One source table's records and their change history.

    ``change_rec``/``change_at`` list the changes after creation (record index, time);
    a record's versions are its creation and its changes.
    """

    key: np.ndarray                 # primary key values (int64 or str objects)
    person_id: np.ndarray | None    # true person of each record (None: not about a person)
    created_at: np.ndarray
    state: Callable[[np.ndarray, np.ndarray], dict]   # (record index, as-of time) -> columns
    change_rec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    change_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def versions(self, until: int, records: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(record, time) of every version that exists at ``until``, sorted, unique; only of
        ``records`` (sorted record indexes) when given, which spares sorting every record's
        history for the few a sync window touches."""
        rec = np.r_[np.arange(len(self.key)), self.change_rec].astype(np.int64)
        at = np.r_[self.created_at, self.change_at].astype(np.int64)
        ok = (at <= until) & (at >= self.created_at[rec])
        if records is not None:
            ok &= _member(rec, records)
        rec, at = rec[ok], at[ok]
        order = np.lexsort((at, rec))
        rec, at = rec[order], at[order]
        keep = np.r_[True, (rec[1:] != rec[:-1]) | (at[1:] != at[:-1])][: len(rec)]
        return rec[keep], at[keep]

    def changed_in(self, window: "Window") -> np.ndarray:
        """The records (sorted indexes) with a version in ``window``: created or changed in it."""
        rec = np.r_[np.arange(len(self.key)), self.change_rec].astype(np.int64)
        at = np.r_[self.created_at, self.change_at].astype(np.int64)
        return np.unique(rec[window.contains(at) & (at >= self.created_at[rec])])

    def latest_change(self, idx: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Time of the latest version of each record ``idx`` at or before ``at``."""
        rec, t = self.versions(int(at.max()) if len(at) else 0, np.unique(idx))
        key = rec * (1 << 42) + (t - _BASE)
        q = idx * (1 << 42) + (np.minimum(at, _BASE + (1 << 41)) - _BASE)
        pos = np.searchsorted(key, q, side="right") - 1
        return t[np.clip(pos, 0, max(len(t) - 1, 0))] if len(t) else np.zeros(len(idx), dtype=np.int64)


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_set`` (sorted, unique): a binary search, faster than
    np.isin for a small set."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[pos] == values


_BASE = 10 ** 9 - (1 << 40)   # offset so that every time of interest is a small positive number


@dataclass
class Rows:
    """Rows for one raw table: their columns, and for the truth the person of each row."""

    columns: dict
    n: int
    person_id: np.ndarray | None = None
    record_id: object = None


def upsert_rows(records: Records, window: Window, salt: int) -> Rows:
    idx = records.changed_in(window)
    cols = records.state(idx, np.full(len(idx), window.hi, dtype=np.int64))
    cols["_fivetran_synced"] = window.synced_at(salt, _hashable(records.key[idx]))
    return Rows(cols, len(idx), _pids(records, idx), records.key[idx])


def history_rows(records: Records, window: Window, salt: int) -> Rows:
    """Fivetran history mode: a row per version, ``_fivetran_active`` on the newest, and the
    version a sync supersedes rewritten with its ``_fivetran_end``."""
    # A version a sync writes is new in the window, or the one before such a version.
    rec, start = records.versions(window.hi, records.changed_in(window))
    same_next = np.r_[rec[1:] == rec[:-1], False]
    nxt = np.r_[start[1:], END_OF_TIME]
    end = np.where(same_next, nxt, END_OF_TIME)
    active = ~same_next
    new = window.contains(start)
    superseded = same_next & ~new & window.contains(nxt)
    emit = new | superseded
    rec, start, end, active = rec[emit], start[emit], end[emit], active[emit]
    cols = records.state(rec, start)
    cols["_fivetran_start"] = start
    cols["_fivetran_end"] = end
    cols["_fivetran_active"] = active
    cols["_fivetran_synced"] = window.synced_at(salt, _hashable(records.key[rec]), start)
    return Rows(cols, len(rec), _pids(records, rec), records.key[rec])


def _pids(records: Records, idx: np.ndarray):
    return None if records.person_id is None else records.person_id[idx]


def _hashable(values: np.ndarray) -> np.ndarray:
    """Integer keys as they are; string keys through pandas' vectorised (and, with its
    fixed key, process-independent) hash."""
    if values.dtype == object:
        import pandas as pd

        return pd.util.hash_array(values, categorize=False).astype(np.int64)
    return values.astype(np.int64)


@dataclass(frozen=True)
class Coded:
    """A column given as codes into a small list of values (-1: null). Turned into Arrow
    with one vectorised ``take``: the way to build tens of millions of low-cardinality
    strings (pages, user agents, event names) quickly."""

    codes: np.ndarray
    values: object

    def __len__(self) -> int:
        return len(self.codes)


def to_table(spec: RawTable, rows: Rows) -> pa.Table:
    """Build the raw table exactly as declared: every declared column in order, columns the
    simulator does not fill as nulls, and an error for any column it fills that is not
    declared (a typo must not vanish silently)."""
    unknown = set(rows.columns) - set(spec.column_names)
    if unknown:
        raise KeyError(f"{spec.source}.{spec.name}: generated columns not in the source YAML: {sorted(unknown)}")
    arrays = []
    for name, field_ in zip(spec.column_names, spec.arrow_schema):
        arrays.append(_to_arrow(rows.columns.get(name), field_.type, rows.n, f"{spec.source}.{spec.name}.{name}"))
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def _to_arrow(values, typ: pa.DataType, n: int, where: str) -> pa.Array:
    if values is None:
        return pa.nulls(n, typ)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if len(values) != n:
            raise ValueError(f"{where}: {len(values)} values for {n} rows")
        return values.cast(typ)
    if isinstance(values, Coded):
        if len(values) != n:
            raise ValueError(f"{where}: {len(values)} values for {n} rows")
        dictionary = values.values if isinstance(values.values, pa.Array) else \
            _to_arrow(np.asarray(values.values, dtype=object if typ == pa.string() else None), typ,
                      len(values.values), where)
        codes = np.asarray(values.codes, dtype=np.int64)
        return pc.take(dictionary, pa.array(codes, mask=codes < 0)).cast(typ)
    if np.isscalar(values) or (isinstance(values, np.ndarray) and values.ndim == 0):
        values = np.full(n, values, dtype=object if isinstance(values, str) else None)
    values = np.asarray(values)
    if len(values) != n:
        raise ValueError(f"{where}: {len(values)} values for {n} rows")
    if pa.types.is_timestamp(typ):
        if values.dtype.kind == "f":  # seconds with a fraction (sync stamps)
            micros = np.round(values * 1_000_000).astype(np.int64)
            return pa.array(micros, type=pa.int64()).cast(typ)
        v = values.astype(np.int64)
        mask = v >= NEVER
        micros = np.where(mask, 0, v) * 1_000_000
        return pa.array(micros, type=pa.int64(), mask=mask).cast(typ)
    if pa.types.is_date(typ):
        v = values.astype(np.int64)
        mask = v == MISSING_DATE
        return pa.array(np.where(mask, 0, v).astype(np.int32), type=pa.int32(), mask=mask).cast(typ)
    if values.dtype == object:
        return pa.array(values.tolist(), type=typ, from_pandas=True)
    if pa.types.is_floating(typ):
        return pa.array(values.astype(np.float64), type=typ, from_pandas=True)
    return pa.array(values, type=typ)


def decimal_strings(amount: np.ndarray) -> pa.Array:
    """Amounts as ``"12.30"`` strings, vectorised."""
    cents = np.round(np.asarray(amount, dtype=np.float64) * 100).astype(np.int64)
    sign = np.where(cents < 0, "-", "")
    units = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(pa.array(sign.astype(object), pa.string()), units, ".", frac, "")


def money_set(amount: np.ndarray, currency: str = "USD") -> pa.Array:
    """Shopify's ``*_set`` JSON: the amount in shop and presentment currency."""
    a = decimal_strings(amount)
    return pc.binary_join_element_wise(
        '{"shop_money":{"amount":"', a, f'","currency_code":"{currency}"}},"presentment_money":{{"amount":"',
        a, f'","currency_code":"{currency}"}}}}', "")
