"""Segment: web (analytics.js) and iOS app calls, in Segment's warehouse schema.

Each event lands in ``tracks`` and in its own table (``product_viewed`` ...), page views
in ``pages``, app screens in ``screens``, logins and form sign-ups in ``identifies``,
and the latest traits per user in ``users``. An event is loaded in the sync after
Segment *receives* it: phones that were offline deliver late, which is how late-arriving
events reach the warehouse.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import reference as ref
from ..activity import (
    E_CHECKOUT_STARTED, E_IDENTIFY, E_NEWSLETTER, E_ORDER_COMPLETED, E_PAGE, E_PRODUCT_ADDED,
    E_PRODUCT_VIEWED, E_SIGNED_UP, EVENT_TABLES, PURCHASE, ChunkWorld, _group_rank,
)
from ..calendar import HOUR
from ..config import NEVER, SimulationConfig, hash64, hash_uniform
from ..ids import uuid_from_hashes
from ..population import IOS_APP
from .base import Coded, Rows, Window
from .shopify import AccountDetails, customer_id, order_id, product_id, sku
from .web import USER_AGENT_VALUES, campaign_codes, device_ip_arrow, user_agent_index

H_ID1, H_ID2, H_DELAY, H_LATE, H_SKEW, H_IDFV1, H_IDFV2, H_IDFA1, H_IDFA2, H_ATT, H_MODEL = range(400, 411)

EVENT_TEXT = {E_PRODUCT_VIEWED: "Product Viewed", E_PRODUCT_ADDED: "Product Added",
              E_CHECKOUT_STARTED: "Checkout Started", E_ORDER_COMPLETED: "Order Completed",
              E_SIGNED_UP: "Signed Up", E_NEWSLETTER: "Newsletter Subscribed"}
TRACK_TYPES = tuple(EVENT_TEXT)
N_CONTENT = len(ref.CONTENT_PAGES)


def _page_values():
    """Per page code (content pages, then one per product): path, title, name, category."""
    products = ref.products()
    from .shopify import handle
    path = [p for p, _, _ in ref.CONTENT_PAGES] + [f"/products/{handle(t)}" for t in products.title]
    title = [t for _, t, _ in ref.CONTENT_PAGES] + [f"{t} | Northwind Roasters" for t in products.title]
    category = [c for _, _, c in ref.CONTENT_PAGES] + ["product"] * len(products.title)
    name = [c.title() for c in category]
    screen = [ref.IOS_SCREENS[c] for _, _, c in ref.CONTENT_PAGES] + ["Product Detail"] * len(products.title)
    return (np.array(path, dtype=object), np.array(title, dtype=object), np.array(name, dtype=object),
            np.array(category, dtype=object), np.array(screen, dtype=object))


class Segment:
    source = "segment"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg
        self.path, self.title, self.name, self.category, self.screen = _page_values()
        self.url = np.array([ref.SITE + p for p in self.path], dtype=object)

    def chunk_rows(self, world: ChunkWorld, window: Window, details: AccountDetails,
                   newsletter_email: np.ndarray) -> dict[str, Rows]:
        cfg, p, s, e = self.cfg, world.people, world.sessions, world.events
        n_all = len(e.session)
        sess = e.session
        person = s.person[sess]
        pid = p.person_id[person]
        slot = s.slot[sess]
        start = s.start[sess]
        rank = _group_rank(sess)
        app = slot == IOS_APP

        # Delivery: seconds on the web, batched every half minute in the app. An app
        # session used offline is delivered when the phone is next online (hours to days
        # later); a web call now and then is retried hours later. These are the events
        # that arrive after the sync that covered their time: late-arriving events.
        u_delay = hash_uniform(cfg.seed, pid, start, rank, H_DELAY)
        offline = app & (hash_uniform(cfg.seed, pid, start, H_LATE) < 0.15)
        retried = ~app & (hash_uniform(cfg.seed, pid, start, rank, H_LATE) < 0.01)
        offline_delay = 2 * HOUR + (hash_uniform(cfg.seed, pid, start, H_LATE, 1) * 94 * HOUR).astype(np.int64)
        delay = np.where(app, 5 + (u_delay * 25).astype(np.int64), (u_delay * 3).astype(np.int64))
        delay = np.where(offline, offline_delay + delay, delay)
        delay = np.where(retried, HOUR + (u_delay * 29 * HOUR).astype(np.int64), delay)
        received = e.at + delay
        m = np.flatnonzero(window.contains(received))
        if len(m) == 0:
            return {}
        sess, person, pid, slot, start, rank, app = sess[m], person[m], pid[m], slot[m], start[m], rank[m], app[m]
        etype, at, received, delay = e.type[m], e.at[m], received[m], delay[m]
        n = len(m)
        skew = np.where(app, (hash_uniform(cfg.seed, s.device_row[sess], H_SKEW) * 180).astype(np.int64) - 90, 0)

        kind = s.kind[sess]
        ids = uuid_from_hashes(hash64(cfg.seed, pid, start, kind, rank, H_ID1),
                               hash64(cfg.seed, pid, start, kind, rank, H_ID2))
        ids = pc.if_else(pa.array(app), pc.utf8_upper(ids), ids)  # the iOS library sends upper case
        device_row = s.device_row[sess]
        anon = pc.take(world.anonymous_ids, pa.array(world.anon_source_row[device_row]))
        with_user = e.with_user[m]
        user_ids = pc.cast(pa.array(customer_id(p.person_id[person], 0)), pa.string())
        user_id = pc.if_else(pa.array(with_user), user_ids, pa.nulls(n, pa.string()))
        uuid_ts = window.synced_at(pid, start, rank)

        # Which page each event happened on (tracks inherit the page they fire on).
        page_code = np.where(e.page[m] >= 0, e.page[m], N_CONTENT + np.maximum(e.product[m], 0))
        is_page = etype == E_PAGE
        all_is_page = e.type == E_PAGE
        all_code = np.where(e.page >= 0, e.page, N_CONTENT + np.maximum(e.product, 0))
        pos = np.where(all_is_page, np.arange(n_all), -1)
        last_page = np.maximum.accumulate(pos) if n_all else pos
        has_page = (last_page >= 0) & (e.session[np.maximum(last_page, 0)] == e.session)
        current_page = np.where(has_page, all_code[np.maximum(last_page, 0)], -1)[m]
        page_rank = np.cumsum(all_is_page) - 1
        first_page_pos = np.full(len(s.person), -1, dtype=np.int64)
        first_pages = np.flatnonzero(all_is_page)[::-1]
        first_page_pos[e.session[first_pages]] = first_pages
        on_landing = (has_page & (last_page == first_page_pos[e.session]))[m]
        prev_page = np.where(all_is_page & (page_rank > 0), np.r_[-1, np.flatnonzero(all_is_page)][np.maximum(page_rank, 0)], -1)
        prev_code = np.where((prev_page >= 0) & (e.session[np.maximum(prev_page, 0)] == e.session),
                             all_code[np.maximum(prev_page, 0)], -1)[m]

        channel = s.channel[sess]
        camp_codes, camp_values = campaign_codes(channel, start)
        utm = on_landing & (ref.CHANNEL_SOURCE[channel] != None)  # noqa: E711
        camp = np.where(utm, camp_codes, -1)
        search_values = np.array([None] * len(camp_values), dtype=object)
        chan_of_code = {}
        for c in np.unique(np.stack([camp_codes, channel], axis=1), axis=0):
            chan_of_code[int(c[0])] = int(c[1])
        for code, ch in chan_of_code.items():
            if code >= 0:
                search_values[code] = (f"?utm_source={ref.CHANNEL_SOURCE[ch]}&utm_medium={ref.CHANNEL_MEDIUM[ch]}"
                                       f"&utm_campaign={camp_values[code]}")
        referrer_landing = ref.CHANNEL_REFERRER[channel]

        web = ~app
        page_for_ctx = np.where(web, current_page, -1)
        timezone_values = np.array([ref.timezone_of_city(i) for i in range(len(ref.cities().city))], dtype=object)
        city = np.where(person >= 0, p.address0.city[person], 0)
        ua = np.where(web, user_agent_index(cfg, device_row, slot), -1)
        idfa_on = hash_uniform(cfg.seed, device_row, H_ATT) < 0.35
        model = (hash_uniform(cfg.seed, device_row, H_MODEL) * len(ref.IOS_MODELS)).astype(np.int64)
        osv = (hash_uniform(cfg.seed, device_row, H_MODEL, 1) * len(ref.IOS_VERSIONS)).astype(np.int64)
        idfv = uuid_from_hashes(hash64(cfg.seed, device_row, H_IDFV1), hash64(cfg.seed, device_row, H_IDFV2), upper=True)
        idfa = uuid_from_hashes(hash64(cfg.seed, device_row, H_IDFA1), hash64(cfg.seed, device_row, H_IDFA2), upper=True)
        nulls = pa.nulls(n, pa.string())
        referrer = np.where(is_page & on_landing, referrer_landing,
                            np.where(prev_code >= 0, self.url[np.maximum(prev_code, 0)], None))

        def ctx_url(codes_, search_codes):
            base = self.url[np.maximum(codes_, 0)]
            out = np.where(codes_ >= 0, base, None)
            has_search = search_codes >= 0
            if has_search.any():
                out = out.copy()
                out[has_search] = [f"{u}{search_values[c]}" for u, c in zip(out[has_search], search_codes[has_search])]
            return out

        page_url = ctx_url(page_for_ctx, np.where(web & (page_for_ctx >= 0), camp, -1))
        common = {
            "id": ids, "anonymous_id": anon, "user_id": user_id,
            "received_at": received, "sent_at": received - np.minimum(delay, 1), "timestamp": at,
            "original_timestamp": at + skew, "uuid_ts": uuid_ts,
            "context_ip": device_ip_arrow(cfg, p.household_id[person], device_row, slot, at),
            "context_library_name": Coded(app.astype(np.int64), ["analytics.js", "analytics-ios"]),
            "context_library_version": Coded(app.astype(np.int64), ["next-1.70.0", "4.1.8"]),
            "context_locale": "en-US",
            "context_timezone": Coded(city, timezone_values),
            "context_user_agent": Coded(ua, USER_AGENT_VALUES),
            "context_page_path": Coded(page_for_ctx, self.path),
            "context_page_title": Coded(page_for_ctx, self.title),
            "context_page_url": page_url,
            "context_page_referrer": np.where(web, referrer, None),
            "context_page_search": Coded(np.where(web & (page_for_ctx >= 0), camp, -1), search_values),
            "context_campaign_source": Coded(np.where(utm, channel, -1), ref.CHANNEL_SOURCE),
            "context_campaign_medium": Coded(np.where(utm, channel, -1), ref.CHANNEL_MEDIUM),
            "context_campaign_name": Coded(camp, camp_values),
            "context_app_name": Coded(np.where(app, 0, -1), ["Northwind Roasters"]),
            "context_app_version": Coded(np.where(app, 0, -1), ["3.4.1"]),
            "context_app_build": Coded(np.where(app, 0, -1), ["341"]),
            "context_device_id": pc.if_else(pa.array(app), idfv, nulls),
            "context_device_manufacturer": Coded(np.where(app, 0, -1), ["Apple"]),
            "context_device_model": Coded(np.where(app, model, -1), ref.IOS_MODELS),
            "context_device_type": Coded(np.where(app, 0, -1), ["ios"]),
            "context_device_advertising_id": pc.if_else(pa.array(app & idfa_on), idfa, nulls),
            "context_device_ad_tracking_enabled": np.where(app, idfa_on, None),
            "context_os_name": Coded(np.where(app, 0, -1), ["iOS"]),
            "context_os_version": Coded(np.where(app, osv, -1), ref.IOS_VERSIONS),
            "context_screen_width": np.where(app, 390, None),
            "context_screen_height": np.where(app, 844, None),
            "context_network_wifi": np.where(app, hash_uniform(cfg.seed, start, H_ATT, 2) < 0.6, None),
            "context_network_carrier": Coded(np.where(app, (hash_uniform(cfg.seed, device_row, H_ATT, 3) * 4).astype(np.int64), -1), ref.CARRIERS),
        }

        out: dict[str, Rows] = {}

        def select(mask: np.ndarray, extra: dict, table: str, with_truth: bool):
            ix = np.flatnonzero(mask)
            cols = {}
            take = pa.array(ix)
            for k, v in common.items():
                cols[k] = _subset(v, ix, take)
            for k, v in extra.items():
                cols[k] = _subset(v, ix, take) if _is_full(v, n) else v
            out[table] = Rows(cols, len(ix), pid[ix] if with_truth else None,
                              _subset(ids, ix, take) if with_truth else None)

        # Page views and app screens.
        select(is_page & web, {
            "name": Coded(page_code, self.name), "category": Coded(page_code, self.category),
            "path": Coded(page_code, self.path), "title": Coded(page_code, self.title),
            "url": page_url, "referrer": referrer,
            "search": Coded(np.where(on_landing, camp, -1), search_values),
        }, "pages", True)
        select(is_page & app, {"name": Coded(page_code, self.screen)}, "screens", True)

        # Identify calls: logged-in users send their account details; a visitor who gives
        # an email to the newsletter box is identified by that email alone.
        ident = etype == E_IDENTIFY
        acct_email, acct_first = details.email[person, 0], details.first[person, 0]
        acct_last, acct_phone = details.last[person, 0], details.phone[person, 0]
        select(ident, {
            "email": np.where(with_user, acct_email, newsletter_email[person]),
            "first_name": np.where(with_user, acct_first, None),
            "last_name": np.where(with_user, acct_last, None),
            "phone": np.where(with_user, acct_phone, None),
            "created_at": np.where(with_user, p.signup_at[person], NEVER),
        }, "identifies", True)

        # Tracks and the per-event tables.
        is_track = np.isin(etype, TRACK_TYPES)
        event_names = [EVENT_TABLES.get(t) for t in range(max(EVENT_TEXT) + 1)]
        event_texts = [EVENT_TEXT.get(t) for t in range(max(EVENT_TEXT) + 1)]
        ev = {"event": Coded(etype, event_names), "event_text": Coded(etype, event_texts)}
        select(is_track, ev, "tracks", True)
        props = self._properties(world, m, etype, sess, newsletter_email, person, (pid, start, kind, rank))
        for t in TRACK_TYPES:
            extra = dict(ev)
            extra.update(props.get(t, {}))
            select(etype == t, extra, EVENT_TABLES[t], False)

        # users: the latest traits of every user identified in this window.
        who = np.unique(person[ident & with_user])
        if len(who):
            last_seen = np.zeros(p.n, dtype=np.int64)
            np.maximum.at(last_seen, person[ident & with_user], received[ident & with_user])
            uid = customer_id(p.person_id[who], 0)
            out["users"] = Rows({
                "id": pc.cast(pa.array(uid), pa.string()), "email": details.email[who, 0],
                "first_name": details.first[who, 0], "last_name": details.last[who, 0],
                "phone": details.phone[who, 0], "created_at": p.signup_at[who],
                "received_at": last_seen[who], "uuid_ts": window.synced_at(uid),
            }, len(who), p.person_id[who], pc.cast(pa.array(uid), pa.string()))
        return out

    def _properties(self, world, m, etype, sess, newsletter_email, person, identity) -> dict:
        """Event properties for the rows ``m`` of ``world.events``, per event type.
        ``identity`` is (person id, session start, session kind, rank in session): what
        per-event draws hash, so they do not depend on positions in this chunk's arrays."""
        pid, start, kind, rank = identity
        cfg, e, s, o, ln = self.cfg, world.events, world.sessions, world.orders, world.lines
        products = ref.products()
        n = len(m)
        prod = e.product[m]
        pr = np.maximum(prod, 0)
        var = np.maximum(e.variant[m], 0)
        line = e.line[m]
        var_titles = [v for vs in products.variants for v in vs]
        var_offset = np.r_[0, np.cumsum([len(v) for v in products.variants])[:-1]]
        var_code = np.where(prod >= 0, var_offset[pr] + np.minimum(var, np.array([len(v) for v in products.variants])[pr] - 1), -1)
        price = np.where(prod >= 0, products.price[pr], np.nan)
        quantity = np.where(line >= 0, _gather(ln.quantity, line, 1), 1)
        prod_code = np.where(prod >= 0, pr, -1)
        product_cols = {
            "product_id": Coded(prod_code, [str(x) for x in product_id(products.key)]),
            "sku": Coded(var_code, [sku(int(k), j) for k, vs in zip(products.key, products.variants) for j in range(len(vs))]),
            "category": Coded(prod_code, products.category), "name": Coded(prod_code, products.title),
            "brand": Coded(np.where(prod >= 0, 0, -1), ["Northwind Roasters"]),
            "variant": Coded(var_code, var_titles), "price": price,
            "url": Coded(np.where(prod >= 0, N_CONTENT + pr, -1), self.url),
            "image_url": Coded(prod_code, [f"https://cdn.northwindroasters.com/products/{k}.jpg" for k in products.key]),
        }
        viewed = dict(product_cols, quantity=np.ones(n, dtype=np.int64), currency="USD", value=price,
                      position=1 + (hash_uniform(cfg.seed, pid, start, kind, rank, 5) * 12).astype(np.int64))
        added = dict(product_cols, quantity=quantity,
                     cart_id=pc.cast(pa.array(hash64(cfg.seed, pid, start, 9).astype(np.int64) & 0xFFFFFFFFFFFF),
                                     pa.string()),
                     position=1 + (hash_uniform(cfg.seed, pid, start, kind, rank, 6) * 12).astype(np.int64))

        # Orders: totals and the products array (JSON, as Segment stores arrays).
        order = np.where(s.kind[sess] == PURCHASE, s.order[sess], -1)
        has_order = order >= 0
        oi = np.maximum(order, 0)
        pid_o = world.people.person_id[_gather(o.person, oi, 0)]
        oid = np.where(has_order, order_id(pid_o, _gather(o.number, oi, 0)), 0)
        products_json = np.full(n, None, dtype=object)
        need = np.flatnonzero(has_order & np.isin(etype, [E_CHECKOUT_STARTED, E_ORDER_COMPLETED]))
        # Segment stores arrays as JSON text; one item string per product and variant.
        item_json = {}
        for pj, key in enumerate(products.key):
            for vj in range(len(products.variants[pj])):
                item_json[(pj, vj)] = (f'"product_id":"{product_id(np.array([key]))[0]}","sku":"{sku(int(key), vj)}",'
                                       f'"name":{json.dumps(products.title[pj])},"category":"{products.category[pj]}"')
        for i in need:
            k = oi[i]
            items = [f'{{{item_json[(ln.product[j], ln.variant[j])]},"price":{ln.price[j]:.2f},"quantity":{ln.quantity[j]}}}'
                     for j in range(o.line_start[k], o.line_start[k] + o.line_count[k])]
            products_json[i] = "[" + ",".join(items) + "]"
        # A checkout without an order (abandoned): the cart's value.
        cart_value = np.zeros(len(s.person))
        adds = np.flatnonzero(e.type == E_PRODUCT_ADDED)
        np.add.at(cart_value, e.session[adds], np.where(e.product[adds] >= 0, products.price[np.maximum(e.product[adds], 0)], 0))
        value = np.where(has_order, _gather(o.subtotal, oi, np.nan), cart_value[sess])
        coupon = np.where(has_order, _gather(o.discount_code, oi, None), None)
        order_cols = {
            "order_id": np.where(has_order, oid.astype(str).astype(object), None),
            "revenue": np.where(has_order, np.round(_gather(o.subtotal, oi, np.nan) - _gather(o.discount, oi, np.nan), 2), value),
            "shipping": np.where(has_order, _gather(o.shipping, oi, np.nan), np.nan),
            "tax": np.where(has_order, _gather(o.tax, oi, np.nan), np.nan),
            "discount": np.where(has_order, _gather(o.discount, oi, np.nan), np.nan),
            "coupon": coupon, "currency": "USD", "products": products_json,
        }
        checkout = dict(order_cols, value=value)
        completed = dict(order_cols, subtotal=np.where(has_order, _gather(o.subtotal, oi, np.nan), np.nan),
                         total=np.where(has_order, _gather(o.total, oi, np.nan), np.nan),
                         checkout_id=np.where(has_order, (oid + 20_000_000_000_000).astype(str).astype(object), None))
        return {
            E_PRODUCT_VIEWED: viewed, E_PRODUCT_ADDED: added, E_CHECKOUT_STARTED: checkout,
            E_ORDER_COMPLETED: completed, E_SIGNED_UP: {"method": "email"},
            E_NEWSLETTER: {"list_name": "Newsletter", "email": newsletter_email[person]},
        }


def _gather(values: np.ndarray, idx: np.ndarray, fill):
    """``values[idx]``, or ``fill`` everywhere when there are no values at all (a chunk of
    newcomers who have not ordered yet)."""
    if len(values) == 0:
        return np.full(len(idx), fill, dtype=object if fill is None else None)
    return values[np.maximum(idx, 0)]


def _is_full(value, n: int) -> bool:
    return not (np.isscalar(value) or value is None) and len(value) == n


def _subset(value, ix: np.ndarray, take: pa.Array):
    if value is None or np.isscalar(value):
        return value
    if isinstance(value, Coded):
        return Coded(value.codes[ix], value.values)
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return pc.take(value, take)
    return np.asarray(value)[ix]
