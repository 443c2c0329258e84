"""Drive the simulated connectors: what each one delivers for a sync window.

:func:`generate_window` walks the chunks of people, builds each chunk's world up to the
window's end once, and hands every connector's rows (as Arrow tables shaped exactly as
the source YAML declares them) and the ground truth to a sink. Memory stays bounded by
one chunk, whatever the number of people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.raw_tables import raw_tables

from .activity import ChunkWorld
from .cache import WorldCache, build_chunk
from .config import SimulationConfig
from .connectors.base import Rows, Window, to_table
from .connectors.klaviyo import Klaviyo
from .connectors.salesforce import Salesforce
from .connectors.segment import Segment
from .connectors.shopify import Shopify
from .connectors.stripe import Stripe
from .connectors.zendesk import Zendesk
from .population import chunk_specs

CONNECTORS = ("shopify", "klaviyo", "stripe", "zendesk", "salesforce", "segment")
TRUTH_SCHEMA = "_truth"

TRUTH_TABLES = {
    "persons": pa.schema([
        ("person_id", pa.int64()), ("persona", pa.string()), ("first_name", pa.string()),
        ("last_name", pa.string()), ("nickname", pa.string()), ("email", pa.string()),
        ("email_alt", pa.string()), ("phone", pa.string()), ("birth_date", pa.date32()),
        ("city", pa.string()), ("postcode", pa.string()), ("country_code", pa.string()),
        ("moved_at", pa.timestamp("us")), ("new_city", pa.string()), ("new_postcode", pa.string()),
        ("household_id", pa.int64()), ("partner_person_id", pa.int64()), ("shares_partner_email", pa.bool_()),
        ("first_seen_at", pa.timestamp("us")), ("signup_at", pa.timestamp("us")),
        ("first_order_at", pa.timestamp("us")), ("subscription_start_at", pa.timestamp("us")),
        ("subscription_end_at", pa.timestamp("us")),
    ]),
    "record_persons": pa.schema([("source", pa.string()), ("table_name", pa.string()),
                                 ("record_id", pa.string()), ("person_id", pa.int64())]),
    "devices": pa.schema([("anonymous_id", pa.string()), ("person_id", pa.int64()),
                          ("valid_from", pa.timestamp("us")), ("valid_to", pa.timestamp("us"))]),
}
TRUTH_KEYS = {"persons": ("person_id",), "record_persons": ("source", "table_name", "record_id"),
              "devices": ("anonymous_id", "person_id")}
# Segment's per-event tables share their ids with ``tracks``; their truth is the tracks row's.
NO_TRUTH = {("segment", t) for t in ("product_viewed", "product_added", "checkout_started",
                                      "order_completed", "signed_up", "newsletter_subscribed")}

Sink = Callable[[str, str, pa.Table], None]


@dataclass
class Progress:
    rows: dict = field(default_factory=dict)

    def add(self, source: str, table: str, n: int) -> None:
        self.rows[(source, table)] = self.rows.get((source, table), 0) + n

    @property
    def total(self) -> int:
        return sum(n for (s, _), n in self.rows.items() if s != TRUTH_SCHEMA)


def _connector(name: str, cfg: SimulationConfig):
    return {"shopify": Shopify, "klaviyo": Klaviyo, "stripe": Stripe, "zendesk": Zendesk,
            "salesforce": Salesforce, "segment": Segment}[name](cfg)


def generate_window(cfg: SimulationConfig, window: Window, sink: Sink,
                    connectors: Iterable[str] = CONNECTORS, truth: bool = True,
                    on_chunk: Callable[[int, int, Progress], None] | None = None,
                    horizon: int | None = None, worlds: WorldCache | None = None) -> Progress:
    """Hand ``sink`` every row the connectors deliver for ``window``. The world is built up
    to ``horizon`` (default: the window's end), or taken from ``worlds`` (a cache of worlds
    built further ahead); what a window delivers must not depend on either."""
    connectors = tuple(connectors)
    specs_by_source = raw_tables()
    progress = Progress()
    instances = {name: _connector(name, cfg) for name in connectors}

    def emit(source: str, table: str, rows: Rows) -> None:
        if rows.n == 0:
            return
        spec = specs_by_source[source][table]
        arrow = to_table(spec, rows)
        sink(source, table, arrow)
        progress.add(source, table, rows.n)
        if truth and rows.person_id is not None and (source, table) not in NO_TRUTH:
            key = arrow.column("id") if "id" in arrow.column_names else pc.binary_join_element_wise(
                *[pc.cast(arrow.column(k), pa.string()) for k in spec.primary_key], "|")
            # One truth row per record, however many versions of it this sync carries.
            pairs = pa.table({"record_id": pc.cast(key, pa.string()),
                              "person_id": pa.array(np.asarray(rows.person_id, dtype=np.int64))})
            pairs = pairs.group_by(["record_id", "person_id"], use_threads=False).aggregate([])
            record = pa.table({
                "source": pa.array([source] * pairs.num_rows, pa.string()),
                "table_name": pa.array([table] * pairs.num_rows, pa.string()),
                "record_id": pairs["record_id"],
                "person_id": pairs["person_id"],
            })
            sink(TRUTH_SCHEMA, "record_persons", record)

    for name, conn in instances.items():
        if hasattr(conn, "global_rows"):
            for table, rows in conn.global_rows(window).items():
                emit(name, table, rows)

    specs = chunk_specs(cfg, window.hi)
    for i, spec in enumerate(specs):
        until = max(window.hi, horizon or window.hi)
        if worlds is not None:
            state = worlds.chunk(spec, until)
        else:
            state = build_chunk(cfg, spec, until, details=bool({"shopify", "klaviyo", "segment"} & set(connectors)),
                                form_email=bool({"klaviyo", "segment"} & set(connectors)))
        world, details, form_email = state.world, state.details, state.form_email
        for name, conn in instances.items():
            if name == "shopify":
                out = conn.chunk_rows(world, window, details)
            elif name == "klaviyo":
                out = conn.chunk_rows(world, window, details, form_email)
            elif name == "segment":
                out = conn.chunk_rows(world, window, details, form_email)
            else:
                out = conn.chunk_rows(world, window)
            for table, rows in out.items():
                emit(name, table, rows)
        if truth:
            for table, arrow in _truth_rows(world, window, devices="segment" in connectors).items():
                if arrow.num_rows:
                    sink(TRUTH_SCHEMA, table, arrow)
                    progress.add(TRUTH_SCHEMA, table, arrow.num_rows)
        if on_chunk:
            on_chunk(i + 1, len(specs), progress)
    return progress


def _truth_rows(world: ChunkWorld, window: Window, devices: bool) -> dict[str, pa.Table]:
    from . import reference as ref
    from .config import NEVER, PERSONAS

    p = world.people
    new = np.flatnonzero(window.contains(p.first_seen_at))
    cities = ref.cities()

    def ts(values):
        v = np.asarray(values, dtype=np.int64)
        return pa.array(np.where(v >= NEVER, 0, v) * 1_000_000, mask=v >= NEVER).cast(pa.timestamp("us"))

    partner = np.where(p.partner[new] >= 0, p.person_id[np.maximum(p.partner[new], 0)], -1)
    persons = pa.table({
        "person_id": pa.array(p.person_id[new]),
        "persona": pa.array(np.array(PERSONAS, dtype=object)[p.persona[new]].tolist(), pa.string()),
        "first_name": pa.array(p.first_name[new].tolist(), pa.string()),
        "last_name": pa.array(p.last_name[new].tolist(), pa.string()),
        "nickname": pa.array(p.nickname[new].tolist(), pa.string()),
        "email": pa.array(p.email[new].tolist(), pa.string()),
        "email_alt": pa.array(p.email_alt[new].tolist(), pa.string()),
        "phone": pa.array(p.phone[new].tolist(), pa.string()),
        "birth_date": pa.array(p.birth_date[new].astype(np.int32)).cast(pa.date32()),
        "city": pa.array(cities.city[p.address0.city[new]].tolist(), pa.string()),
        "postcode": pa.array(p.address0.postcode[new].tolist(), pa.string()),
        "country_code": pa.array(cities.country[p.address0.city[new]].tolist(), pa.string()),
        "moved_at": ts(p.moved_at[new]),
        "new_city": pa.array(cities.city[p.address1.city[new]].tolist(), pa.string()),
        "new_postcode": pa.array(p.address1.postcode[new].tolist(), pa.string()),
        "household_id": pa.array(p.household_id[new]),
        "partner_person_id": pa.array(partner, mask=partner < 0),
        "shares_partner_email": pa.array(p.family_email[new] | (np.where(p.partner[new] >= 0, p.family_email[np.maximum(p.partner[new], 0)], False))),
        "first_seen_at": ts(p.first_seen_at[new]), "signup_at": ts(p.signup_at[new]),
        "first_order_at": ts(p.first_order_at[new]),
        "subscription_start_at": ts(p.subscription_start_at[new]),
        "subscription_end_at": ts(p.subscription_end_at[new]),
    }, schema=TRUTH_TABLES["persons"])

    if not devices:
        return {"persons": persons}
    # Devices: who used each anonymous id, from when to when (as far as the window reaches).
    s = world.sessions
    used = s.start <= window.hi
    rows, first_use = s.device_row[used], s.start[used]
    order = np.lexsort((first_use, rows))
    rows, first_use = rows[order], first_use[order]
    start = np.r_[True, rows[1:] != rows[:-1]][: len(rows)]
    end = np.r_[rows[1:] != rows[:-1], True][: len(rows)]
    dev_rows, dev_from, dev_to = rows[start], first_use[start], first_use[end]
    touched = window.contains(first_use)
    changed_rows = np.unique(rows[touched])
    keep = np.isin(dev_rows, changed_rows)
    dev_rows, dev_from, dev_to = dev_rows[keep], dev_from[keep], dev_to[keep]
    anon = pc.take(world.anonymous_ids, pa.array(world.anon_source_row[dev_rows]))
    device_rows = pa.table({"anonymous_id": anon, "person_id": pa.array(p.person_id[dev_rows // 6]),
                            "valid_from": ts(dev_from), "valid_to": ts(dev_to)}, schema=TRUTH_TABLES["devices"])
    return {"persons": persons, "devices": device_rows}
