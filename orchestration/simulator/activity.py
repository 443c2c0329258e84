"""What the people of a chunk do, from their first visit up to a horizon.

:class:`ChunkWorld` computes, lazily and once, the orders, web and app sessions with
their events, support tickets, marketing emails and subscription invoices of one chunk
of people. Recurring activity comes from per-epoch random streams, attributes of a
single thing (a basket, a refund, an open) from hashes of what the thing is, so the
world up to any time is the same whatever horizon it was generated for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import reference as ref
from .calendar import DAY, HOUR
from .config import (
    AT_RISK_SUB, BASKET_MULT, CHURNED_HV, NEVER, ORDER_RATE, SESSION_RATE,
    SimulationConfig, hash_uniform, stream,
)
from .population import DESKTOP, IOS_APP, MOBILE_WEB, People, make_people, open_probability, ticket_rate

# Random-stream component numbers (part of the determinism contract).
C_ORDERS, C_SESSIONS, C_TICKETS, C_EMAIL, C_DEVICES, C_EVENT_IDS = 10, 11, 12, 13, 14, 15

# Salts for hash draws (part of the determinism contract).
(H_BASKET, H_ORDER, H_SLOT, H_LOGIN, H_CHANNEL, H_DUP, H_TICKET, H_FLOW, H_INVOICE,
 H_KLAVIYO, H_PAGES) = range(100, 111)

MAX_ORDERS_PER_PERSON = 999
MAX_LINES = 5

# Session kinds.
FIRST_VISIT, BROWSE, SIGNUP, NEWSLETTER, PURCHASE, HANDOVER = range(6)
# Event types.
(E_PAGE, E_IDENTIFY, E_PRODUCT_VIEWED, E_PRODUCT_ADDED, E_CHECKOUT_STARTED,
 E_ORDER_COMPLETED, E_SIGNED_UP, E_NEWSLETTER) = range(8)
EVENT_TABLES = {E_PRODUCT_VIEWED: "product_viewed", E_PRODUCT_ADDED: "product_added",
                E_CHECKOUT_STARTED: "checkout_started", E_ORDER_COMPLETED: "order_completed",
                E_SIGNED_UP: "signed_up", E_NEWSLETTER: "newsletter_subscribed"}

# Login probability of a session after sign-up, by device slot.
LOGIN_P = np.array([0.55, 0.45, 0.97])
SLOT_PREFERENCE = np.array([0.45, 0.40, 0.25])
PAGE_GAP_SECONDS = 50.0
BF_DISCOUNT = 0.20


@dataclass
class Orders:
    person: np.ndarray
    number: np.ndarray
    created_at: np.ndarray
    account: np.ndarray          # 0: the person's main Shopify account, 1: a second (guest) account
    tracked: np.ndarray          # placed in a tracked web or app session
    slot: np.ndarray
    discount_code: np.ndarray
    subtotal: np.ndarray
    discount: np.ndarray
    shipping: np.ndarray
    tax: np.ndarray
    total: np.ndarray
    cancelled_at: np.ndarray
    fulfilled_at: np.ndarray
    refund_at: np.ndarray
    refund_full: np.ndarray
    line_start: np.ndarray
    line_count: np.ndarray


@dataclass
class Lines:
    order: np.ndarray
    index: np.ndarray
    product: np.ndarray
    variant: np.ndarray
    quantity: np.ndarray
    price: np.ndarray


@dataclass
class Sessions:
    person: np.ndarray
    kind: np.ndarray
    slot: np.ndarray
    device_row: np.ndarray       # person * 6 + slot * 2 + version
    start: np.ndarray
    channel: np.ndarray
    logged_in: np.ndarray
    order: np.ndarray            # purchase sessions: index into Orders, else -1


@dataclass
class Events:
    session: np.ndarray
    type: np.ndarray
    at: np.ndarray
    page: np.ndarray             # content page index, or -1 for a product page
    product: np.ndarray          # product index or -1
    variant: np.ndarray
    line: np.ndarray             # order line, or -1
    with_user: np.ndarray        # user_id set (logged in)
    anonymous_identify: np.ndarray


@dataclass
class Tickets:
    person: np.ndarray
    number: np.ndarray
    created_at: np.ndarray
    reason: np.ndarray
    alt_requester: np.ndarray    # raised from the person's second email (a second Zendesk user)
    opened_at: np.ndarray
    solved_at: np.ndarray
    closed_at: np.ndarray
    channel: np.ndarray


@dataclass
class EmailEvents:
    person: np.ndarray
    metric: np.ndarray           # index into KLAVIYO_METRICS
    at: np.ndarray
    campaign: np.ndarray         # campaign index or -1
    flow: np.ndarray             # flow index or -1
    order: np.ndarray            # order index for Placed Order, else -1


@dataclass
class Invoices:
    person: np.ndarray
    period: np.ndarray
    period_start: np.ndarray
    period_end: np.ndarray
    amount: np.ndarray
    failed_first: np.ndarray     # first charge attempt declined
    paid_at: np.ndarray
    failure_code: np.ndarray


KLAVIYO_METRICS = ("Received Email", "Opened Email", "Clicked Email", "Subscribed to List",
                   "Unsubscribed", "Placed Order", "Bounced Email")
M_RECEIVED, M_OPENED, M_CLICKED, M_SUBSCRIBED, M_UNSUBSCRIBED, M_PLACED_ORDER, M_BOUNCED = range(7)
FLOWS = ("Welcome Series", "Abandoned Cart", "Post-Purchase Thank You", "Win-Back")
F_WELCOME, F_ABANDONED, F_POST_PURCHASE, F_WINBACK = range(4)
CAMPAIGN_EVERY_DAYS = 21


def campaign_times(cfg: SimulationConfig) -> np.ndarray:
    """Send times of every email campaign on the calendar: one every three weeks on a
    Tuesday at 15:00 UTC, plus Black Friday and mid-December sends."""
    cal = cfg.calendar()
    first_tuesday = cal.start + ((1 - ((cal.start // DAY) + 3) % 7) % 7) * DAY
    regular = np.arange(first_tuesday + 15 * HOUR, cal.end, CAMPAIGN_EVERY_DAYS * DAY, dtype=np.int64)
    special = []
    for day in range(cal.days):
        if cal.weights[day] / max(cal.weights[max(day - 1, 0)], 1e-9) > 2.0:  # Black Friday
            special.append(cal.start + day * DAY + 13 * HOUR)
    return np.sort(np.concatenate([regular, np.array(special, dtype=np.int64)]))


def klaviyo_profile_at(cfg: SimulationConfig, people: People) -> np.ndarray:
    """When the person gets a Klaviyo profile: at newsletter sign-up, or at their first
    order when the Shopify integration syncs them (one customer in twenty: the store
    syncs only customers who pass its list rules)."""
    synced = hash_uniform(cfg.seed, people.person_id, H_KLAVIYO) < 0.05
    from_shop = np.where(synced, people.first_order_at, NEVER)
    return np.minimum(people.newsletter_at, from_shop)


def _u(cfg: SimulationConfig, *keys) -> np.ndarray:
    return hash_uniform(cfg.seed, *keys)


def _group_rank(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal ``keys`` (which must be sorted)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, keys[1:] != keys[:-1]]
    idx = np.arange(len(keys))
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def _choose_slot(people: People, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
    w = people.has_slot[idx] * SLOT_PREFERENCE
    cdf = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    return np.minimum((cdf < u[:, None]).sum(axis=1), 2)


class ChunkWorld:
    """Everything one chunk of people does before ``until`` (and a little after)."""

    def __init__(self, cfg: SimulationConfig, people: People, until: int):
        self.cfg = cfg
        self.people = people
        self.until = until
        self.n_epochs = max(cfg.epoch_of(until - 1) + 1, 1)
        self.cal = cfg.calendar()
        self.pid = people.person_id

    @classmethod
    def build(cls, cfg: SimulationConfig, spec, until: int) -> "ChunkWorld":
        return cls(cfg, make_people(cfg, spec), until)

    def _epochs(self):
        for k in range(self.n_epochs):
            yield k, *self.cfg.epoch_bounds(k)

    def _stream(self, component: int, *keys: int) -> np.random.Generator:
        spec = self.people.spec
        return stream(self.cfg, spec.kind, spec.index, component, *keys)

    def _poisson_times(self, rng, idx, lo, hi, rate_per_30d):
        mass = self.cal.mass(lo, hi)
        counts = rng.poisson(rate_per_30d * mass / 30.0)
        who = np.repeat(idx, counts)
        times = self.cal.sample(rng, np.repeat(lo, counts), np.repeat(hi, counts))
        return who, times

    # -- devices ---------------------------------------------------------------------------
    @functools.cached_property
    def anon_source_row(self) -> np.ndarray:
        """For each device row, the row whose anonymous id it uses (a handed-over phone
        keeps the previous owner's id)."""
        p = self.people
        rows = np.arange(p.n * 6)
        for taker in np.flatnonzero(p.handover_from >= 0):
            giver = p.handover_from[taker]
            slot = IOS_APP if p.has_slot[giver, IOS_APP] else MOBILE_WEB
            rows[taker * 6 + slot * 2 + 1] = giver * 6 + slot * 2
        return rows

    @functools.cached_property
    def anonymous_ids(self):
        from .ids import uuid4
        return uuid4(self._stream(C_DEVICES), self.people.n * 6)

    def device_row(self, person: np.ndarray, slot: np.ndarray, at: np.ndarray) -> np.ndarray:
        version = (at >= self.people.slot_switch_at[person, slot]).astype(np.int64)
        return person * 6 + slot * 2 + version

    # -- orders ----------------------------------------------------------------------------
    @functools.cached_property
    def orders_and_lines(self) -> tuple[Orders, Lines]:
        p = self.people
        who = [np.flatnonzero(p.first_order_at < NEVER)]
        when = [p.first_order_at[who[0]]]
        for k, e_lo, e_hi in self._epochs():
            rng = self._stream(C_ORDERS, k)
            lo = np.maximum(e_lo, p.first_order_at + DAY)
            hi = np.minimum(e_hi, p.order_end_at)
            idx = np.flatnonzero((hi > lo) & (p.first_order_at < NEVER))
            w, t = self._poisson_times(rng, idx, lo[idx], hi[idx], ORDER_RATE[p.persona[idx]])
            who.append(w)
            when.append(t)
        person = np.concatenate(who)
        created = np.concatenate(when)
        order = np.lexsort((created, person))
        person, created = person[order], created[order]
        number = _group_rank(person)
        keep = number <= MAX_ORDERS_PER_PERSON
        person, created, number = person[keep], created[keep], number[keep]
        return self._order_details(person, created, number)

    def _order_details(self, person, created, number) -> tuple[Orders, Lines]:
        p, cfg = self.people, self.cfg
        pid = self.pid[person]
        u = lambda *k: _u(cfg, pid, number, H_ORDER, *k)  # noqa: E731
        products = ref.products()

        # Basket: 1-5 lines, favouring the person's favourite category.
        mult = BASKET_MULT[p.persona[person]]
        n_lines = np.minimum(1 + np.floor(-np.log1p(-u(0)) * 0.75 * mult).astype(np.int64), MAX_LINES)
        line_order = np.repeat(np.arange(len(person)), n_lines)
        line_index = _group_rank(line_order)
        lu = lambda *k: _u(cfg, pid[line_order], number[line_order], H_BASKET, line_index, *k)  # noqa: E731
        fav = p.fav_category[person[line_order]]
        cat_of_product = np.searchsorted(products.categories, products.category)
        boost = np.where(cat_of_product[None, :] == np.arange(len(products.categories))[:, None], 6.0, 1.0)
        # High-value customers buy equipment more often.
        weights = products.p[None, :] * boost[fav]
        big = products.price >= 150
        weights = np.where(big[None, :] & (mult[line_order] > 1.5)[:, None], weights * 3.0, weights)
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        product = np.minimum((cdf < lu(1)[:, None]).sum(axis=1), len(products.key) - 1)
        n_variants = np.array([len(v) for v in products.variants])[product]
        variant = np.minimum((lu(2) * n_variants).astype(np.int64), n_variants - 1)
        q = lu(3)
        quantity = 1 + (q < 0.22).astype(np.int64) + (q < 0.06).astype(np.int64)
        price = products.price[product].copy()
        gift = products.category[product] == "Gift Cards"
        price = np.where(gift & (products.title[product] == "Gift Card"),
                         np.array([25.0, 50.0, 100.0])[np.minimum(variant, 2)], price)

        subtotal = np.bincount(line_order, weights=price * quantity, minlength=len(person))
        bf_week = self.cal.is_promo(created)
        code_u = u(1)
        discount_code = np.where(bf_week & (code_u < 0.35), "BLACKFRIDAY20",
                                 np.where((number == 0) & (code_u < 0.15), "WELCOME10",
                                          np.where(code_u > 0.97, "LOYALTY15", None)))
        rate = np.select([discount_code == "BLACKFRIDAY20", discount_code == "WELCOME10",
                          discount_code == "LOYALTY15"], [BF_DISCOUNT, 0.10, 0.15], 0.0)
        discount = np.round(subtotal * rate, 2)
        shipping = np.where(subtotal - discount >= 50, 0.0, 6.95)
        tax = np.round((subtotal - discount) * 0.0725, 2)
        total = np.round(subtotal - discount + shipping + tax, 2)

        cancel = u(2) < 0.01
        cancelled_at = np.where(cancel, created + (3600 + u(3) * 20 * 3600).astype(np.int64), NEVER)
        fulfilled_at = np.where(cancel, NEVER, created + ((0.3 + u(4) * 2.7) * DAY).astype(np.int64))
        refund_p = np.where(p.persona[person] == AT_RISK_SUB, 0.09, 0.04)
        refund = (u(5) < refund_p) & ~cancel
        refund_at = np.where(refund, created + ((3 + u(6) * 22) * DAY).astype(np.int64), NEVER)
        refund_full = u(7) < 0.6
        tracked = u(8) < 0.87

        # Sign-up and first order in one visit happen on the same device.
        slot = _choose_slot(p, person, u(9))
        signup_slot = _choose_slot(p, person, _u(cfg, pid, H_SLOT, 1))
        same_visit = (number == 0) & (created - p.signup_at[person] < HOUR)
        slot = np.where(same_visit, signup_slot, slot)

        has_dup = _u(cfg, pid, H_DUP) < 0.06
        account = ((number > 0) & has_dup & (u(10) < 0.35)).astype(np.int64)

        line_start = np.r_[0, np.cumsum(n_lines)[:-1]] if len(n_lines) else np.zeros(0, dtype=np.int64)
        orders = Orders(person, number, created, account, tracked, slot, discount_code, subtotal,
                        discount, shipping, tax, total, cancelled_at, fulfilled_at, refund_at,
                        refund_full, line_start, n_lines)
        lines = Lines(line_order, line_index, product, variant, quantity, price)
        return orders, lines

    @property
    def orders(self) -> Orders:
        return self.orders_and_lines[0]

    @property
    def lines(self) -> Lines:
        return self.orders_and_lines[1]

    def shopify_account_created_at(self) -> np.ndarray:
        """(n, 2): creation time of each person's main and second Shopify account."""
        p, o = self.people, self.orders
        created = np.full((p.n, 2), NEVER, dtype=np.int64)
        created[:, 0] = p.signup_at
        dup = o.account == 1
        np.minimum.at(created[:, 1], o.person[dup], o.created_at[dup])
        return created

    # -- sessions and events -------------------------------------------------------------------
    @functools.cached_property
    def sessions(self) -> Sessions:
        p, cfg, o = self.people, self.cfg, self.orders
        parts = []  # (person, kind, start, slot or -1, order)

        everyone = np.arange(p.n)
        parts.append((everyone, np.full(p.n, FIRST_VISIT), p.first_seen_at, np.full(p.n, -1), np.full(p.n, -1)))
        for k, e_lo, e_hi in self._epochs():
            rng = self._stream(C_SESSIONS, k)
            lo = np.maximum(e_lo, p.first_seen_at + HOUR)
            hi = np.minimum(e_hi, p.active_end_at)
            idx = np.flatnonzero(hi > lo)
            w, t = self._poisson_times(rng, idx, lo[idx], hi[idx], SESSION_RATE[p.persona[idx]])
            parts.append((w, np.full(len(w), BROWSE), t, np.full(len(w), -1), np.full(len(w), -1)))
        signed = np.flatnonzero(p.signup_at < NEVER)
        signup_slot = _choose_slot(p, signed, _u(cfg, self.pid[signed], H_SLOT, 1))
        parts.append((signed, np.full(len(signed), SIGNUP), p.signup_at[signed], signup_slot, np.full(len(signed), -1)))
        # Newsletter sign-ups on their own visit (not within the sign-up visit).
        news = np.flatnonzero((p.newsletter_at < NEVER) & ((p.newsletter_at - p.signup_at) > HOUR) |
                              ((p.newsletter_at < NEVER) & (p.signup_at >= NEVER)))
        parts.append((news, np.full(len(news), NEWSLETTER), p.newsletter_at[news] - 90, np.full(len(news), -1), np.full(len(news), -1)))
        tracked = np.flatnonzero(o.tracked)
        parts.append((o.person[tracked], np.full(len(tracked), PURCHASE), o.created_at[tracked], o.slot[tracked], tracked))
        takers = np.flatnonzero(p.handover_from >= 0)
        taker_slot = np.where(p.has_slot[p.handover_from[takers], IOS_APP], IOS_APP, MOBILE_WEB)
        parts.append((takers, np.full(len(takers), HANDOVER), p.slot_switch_at[takers, taker_slot], taker_slot, np.full(len(takers), -1)))

        person = np.concatenate([x[0] for x in parts])
        kind = np.concatenate([x[1] for x in parts])
        start = np.concatenate([x[2] for x in parts]).astype(np.int64)
        slot = np.concatenate([x[3] for x in parts])
        order = np.concatenate([x[4] for x in parts])
        pid = self.pid[person]
        su = _u(cfg, pid, start, H_SLOT)
        free = slot < 0
        slot[free] = _choose_slot(p, person[free], su[free])
        # Before sign-up nobody uses the app logged in; first visits are on the web.
        pre = (kind == FIRST_VISIT) & (slot == IOS_APP)
        slot[pre] = np.where(p.has_slot[person[pre], DESKTOP], DESKTOP, MOBILE_WEB)
        device_row = self.device_row(person, slot, start)

        signed_up = start >= p.signup_at[person]
        login_u = _u(cfg, pid, start, H_LOGIN)
        logged_in = np.select(
            [kind == FIRST_VISIT, kind == SIGNUP, kind == HANDOVER, kind == PURCHASE, kind == NEWSLETTER],
            [False, True, True, signed_up & (login_u < 0.85), signed_up],
            signed_up & (login_u < LOGIN_P[slot]),
        )
        ch_u = _u(cfg, pid, start, H_CHANNEL)
        channel = np.searchsorted(np.cumsum(ref.CHANNEL_P), ch_u, side="right")
        channel = np.minimum(channel, len(ref.CHANNEL_P) - 1)
        subscribed = (start >= p.newsletter_at[person]) & (start < p.unsubscribe_at[person])
        channel = np.where((channel == ref.EMAIL_CHANNEL) & ~subscribed, 0, channel)
        channel = np.where(np.isin(kind, [SIGNUP, NEWSLETTER, HANDOVER]), 0, channel)

        order_ix = np.lexsort((kind, start, person))
        # Two visits of one person starting in the same second of the same kind are one.
        dup = np.r_[False, (person[order_ix][1:] == person[order_ix][:-1]) & (start[order_ix][1:] == start[order_ix][:-1])
                    & (kind[order_ix][1:] == kind[order_ix][:-1])]
        order_ix = order_ix[~dup]
        return Sessions(person[order_ix], kind[order_ix], slot[order_ix], device_row[order_ix],
                        start[order_ix], channel[order_ix], logged_in[order_ix], order[order_ix])

    @functools.cached_property
    def events(self) -> Events:
        s, o, ln, p, cfg = self.sessions, self.orders, self.lines, self.people, self.cfg
        n_s = len(s.person)
        sid = np.arange(n_s)
        pid = self.pid[s.person]
        products = ref.products()
        n_content = len(ref.CONTENT_PAGES)
        parts = []

        def add(session, etype, at, page=None, product=None, variant=None, line=None):
            m = len(session)
            parts.append((session, np.full(m, etype), at,
                          np.full(m, -1) if page is None else page,
                          np.full(m, -1) if product is None else product,
                          np.full(m, -1) if variant is None else variant,
                          np.full(m, -1) if line is None else line))

        # Browsing visits: a few pages, some of them products, sometimes a cart.
        browse = sid[(s.kind == FIRST_VISIT) | (s.kind == BROWSE)]
        bu = lambda *k: _u(cfg, pid[browse], s.start[browse], H_PAGES, *k)  # noqa: E731
        n_pages = np.minimum(1 + np.floor(-np.log1p(-bu(0)) * 1.2).astype(np.int64), 12)
        page_session = np.repeat(browse, n_pages)
        page_no = _group_rank(page_session)
        pu = lambda *k: _u(cfg, pid[page_session], s.start[page_session], H_PAGES, page_no, *k)  # noqa: E731
        gaps = -np.log1p(-pu(1)) * PAGE_GAP_SECONDS
        offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[np.r_[np.cumsum(n_pages) - n_pages]], n_pages)
        page_at = s.start[page_session] + offset.astype(np.int64)
        is_product = pu(2) < 0.5
        fav = p.fav_category[s.person[page_session]]
        cat_of_product = np.searchsorted(products.categories, products.category)
        w = products.p[None, :] * np.where(cat_of_product[None, :] == fav[:, None], 5.0, 1.0)
        cdf = np.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]
        product = np.minimum((cdf < pu(3)[:, None]).sum(axis=1), len(products.key) - 1)
        content = np.minimum((pu(4) * (n_content - 2)).astype(np.int64), n_content - 3)
        content = np.where(page_no == 0, np.where(pu(5) < 0.5, 0, content), content)
        add(page_session, E_PAGE, page_at, np.where(is_product, -1, content), np.where(is_product, product, -1))
        viewed = is_product
        add(page_session[viewed], E_PRODUCT_VIEWED, page_at[viewed] + 2, None, product[viewed])
        add_p = np.where(s.kind[page_session] == FIRST_VISIT, 0.05, 0.11)
        added = viewed & (pu(6) < add_p)
        n_var = np.array([len(v) for v in products.variants])[product]
        variant = np.minimum((pu(7) * n_var).astype(np.int64), n_var - 1)
        add(page_session[added], E_PRODUCT_ADDED, page_at[added] + 25, None, product[added], variant[added])
        carted = np.unique(page_session[added])
        last_at = np.zeros(n_s, dtype=np.int64)
        np.maximum.at(last_at, page_session, page_at)
        checkout = carted[_u(cfg, pid[carted], s.start[carted], H_PAGES, 99) < 0.22]
        add(checkout, E_CHECKOUT_STARTED, last_at[checkout] + 70)
        self.abandoned_cart_sessions = np.setdiff1d(carted, checkout)

        # Sign-up visits: account page, identify, Signed Up (and the newsletter box).
        sign = sid[s.kind == SIGNUP]
        add(sign, E_PAGE, s.start[sign], np.full(len(sign), 9))
        add(sign, E_SIGNED_UP, s.start[sign] + 40)
        joined = sign[np.abs(p.newsletter_at[s.person[sign]] - s.start[sign]) <= HOUR]
        add(joined, E_NEWSLETTER, p.newsletter_at[s.person[joined]])
        news = sid[s.kind == NEWSLETTER]
        add(news, E_PAGE, s.start[news], np.zeros(len(news), dtype=np.int64))
        add(news, E_NEWSLETTER, s.start[news] + 90)

        # Purchase visits: product pages, cart, checkout, order completed at the order time.
        buy = sid[s.kind == PURCHASE]
        order_of = s.order[buy]
        n_lines = o.line_count[order_of]
        duration = (120 + 140 * n_lines).astype(np.int64)
        begin = s.start[buy] - duration
        add(buy, E_PAGE, begin, np.where(s.channel[buy] == ref.EMAIL_CHANNEL, 1, 0))
        line_session = np.repeat(buy, n_lines)
        line_ix = np.repeat(o.line_start[order_of], n_lines) + _group_rank(np.repeat(np.arange(len(buy)), n_lines))
        line_begin = np.repeat(begin, n_lines) + 60 + 140 * ln.index[line_ix]
        add(line_session, E_PAGE, line_begin, None, ln.product[line_ix])
        add(line_session, E_PRODUCT_VIEWED, line_begin + 2, None, ln.product[line_ix])
        add(line_session, E_PRODUCT_ADDED, line_begin + 60, None, ln.product[line_ix], ln.variant[line_ix], line_ix)
        add(buy, E_PAGE, s.start[buy] - 100, np.full(len(buy), 8))
        add(buy, E_CHECKOUT_STARTED, s.start[buy] - 80)
        add(buy, E_ORDER_COMPLETED, s.start[buy])

        # A handed-over phone: its new owner logs in.
        hand = sid[s.kind == HANDOVER]
        add(hand, E_PAGE, s.start[hand], np.zeros(len(hand), dtype=np.int64))

        session = np.concatenate([x[0] for x in parts])
        etype = np.concatenate([x[1] for x in parts])
        at = np.concatenate([x[2] for x in parts]).astype(np.int64)
        page = np.concatenate([x[3] for x in parts])
        prod = np.concatenate([x[4] for x in parts])
        var = np.concatenate([x[5] for x in parts])
        line = np.concatenate([x[6] for x in parts])

        # Identify: at every login (first logged-in visit on a device, sign-up, handover),
        # now and then to refresh traits, and anonymously when a visitor without an
        # account gives their email to the newsletter box.
        by_device = np.lexsort((s.start, s.device_row))
        first_login = np.zeros(n_s, dtype=bool)
        logged = s.logged_in[by_device]
        dev = s.device_row[by_device]
        # A device's first logged-in session: logged in, and no earlier logged-in session on it.
        cum = np.cumsum(logged)
        group_start = np.r_[0, np.flatnonzero(dev[1:] != dev[:-1]) + 1]
        group_of = np.repeat(np.arange(len(group_start)), np.diff(np.r_[group_start, len(dev)]))
        before = cum - logged - np.r_[0, cum][group_start][group_of]
        seen_before = before > 0
        first_login[by_device] = logged & ~seen_before
        refresh = s.logged_in & (_u(cfg, pid, s.start, H_LOGIN, 7) < 0.05)
        identify = first_login | refresh | (s.kind == SIGNUP) | (s.kind == HANDOVER)
        anon_ident = (s.kind == NEWSLETTER) & ~s.logged_in
        ident = sid[identify | anon_ident]
        session = np.r_[session, ident]
        etype = np.r_[etype, np.full(len(ident), E_IDENTIFY)]
        at = np.r_[at, s.start[ident] + 1]
        page = np.r_[page, np.full(len(ident), -1)]
        prod = np.r_[prod, np.full(len(ident), -1)]
        var = np.r_[var, np.full(len(ident), -1)]
        line = np.r_[line, np.full(len(ident), -1)]

        order_ix = np.lexsort((etype, at, session))
        session, etype, at = session[order_ix], etype[order_ix], at[order_ix]
        with_user = s.logged_in[session]
        anonymous_identify = (etype == E_IDENTIFY) & ~with_user
        return Events(session, etype, at, page[order_ix], prod[order_ix], var[order_ix],
                      line[order_ix], with_user, anonymous_identify)

    # -- support tickets -------------------------------------------------------------------
    @functools.cached_property
    def tickets(self) -> Tickets:
        p, cfg = self.people, self.cfg
        who, when = [], []
        begins = np.minimum(p.first_order_at, np.where(p.persona == 1, p.first_seen_at + DAY, NEVER))
        for k, e_lo, e_hi in self._epochs():
            rng = self._stream(C_TICKETS, k)
            lo = np.maximum(e_lo, begins)
            hi = np.minimum(e_hi, np.minimum(p.active_end_at, NEVER - 1) + 30 * DAY)
            idx = np.flatnonzero((hi > lo) & (begins < NEVER))
            # Rates change at the surge date; sample with the rate at the interval's middle.
            mid = lo[idx] + (hi[idx] - lo[idx]) // 2
            w, t = self._poisson_times(rng, idx, lo[idx], hi[idx], ticket_rate(p, idx, mid))
            who.append(w)
            when.append(t)
        person = np.concatenate(who) if who else np.zeros(0, dtype=np.int64)
        created = np.concatenate(when) if when else np.zeros(0, dtype=np.int64)
        order = np.lexsort((created, person))
        person, created = person[order], created[order]
        number = _group_rank(person)
        pid = self.pid[person]
        u = lambda *k: _u(cfg, pid, number, H_TICKET, *k)  # noqa: E731
        reason = np.minimum(np.searchsorted(np.cumsum(ref.TICKET_P), u(0), side="right"), len(ref.TICKET_P) - 1)
        alt = (u(1) < 0.12) & (p.email_alt[person] != None)  # noqa: E711
        opened = created + ((0.2 + u(2) * 8) * HOUR).astype(np.int64)
        solved = np.where(u(3) < 0.93, opened + ((0.1 + -np.log1p(-u(4)) * 2.0) * DAY).astype(np.int64), NEVER)
        closed = np.where(solved < NEVER, solved + 4 * DAY, NEVER)
        channel = np.array(["email", "web", "chat", "api"], dtype=object)[(u(5) * 4).astype(np.int64)]
        return Tickets(person, number, created, reason, alt, opened, solved, closed, channel)

    # -- email marketing -------------------------------------------------------------------
    @functools.cached_property
    def email_events(self) -> EmailEvents:
        p, cfg, o = self.people, self.cfg, self.orders
        prof_at = klaviyo_profile_at(cfg, p)
        sends = campaign_times(cfg)
        parts = []

        def add(person, metric, at, campaign=-1, flow=-1, order=-1):
            m = len(person)
            parts.append((person, np.full(m, metric), at.astype(np.int64),
                          np.broadcast_to(campaign, m).copy(), np.broadcast_to(flow, m).copy(),
                          np.broadcast_to(order, m).copy()))

        def engagement(person, sent, rng_u_open, rng_u_click, campaign=-1, flow=-1):
            opened = rng_u_open < open_probability(p, person, sent)
            open_at = sent + ((0.05 + -np.log1p(-rng_u_open) * 6) * HOUR).astype(np.int64)
            add(person[opened], M_OPENED, open_at[opened],
                campaign if np.isscalar(campaign) else campaign[opened],
                flow if np.isscalar(flow) else flow[opened])
            clicked = opened & (rng_u_click < 0.2)
            add(person[clicked], M_CLICKED, open_at[clicked] + ((rng_u_click[clicked] * 40) * 60).astype(np.int64) + 30,
                campaign if np.isscalar(campaign) else campaign[clicked],
                flow if np.isscalar(flow) else flow[clicked])

        for k, e_lo, e_hi in self._epochs():
            rng = self._stream(C_EMAIL, k)
            for c in np.flatnonzero((sends >= e_lo) & (sends < e_hi)):
                t = sends[c]
                eligible = np.flatnonzero((prof_at <= t) & (p.newsletter_at <= t) & (t < p.unsubscribe_at))
                audience = eligible[rng.random(len(eligible)) < 0.25]
                sent = t + (rng.random(len(audience)) * 2 * HOUR).astype(np.int64)
                bounced = rng.random(len(audience)) < 0.004
                add(audience[~bounced], M_RECEIVED, sent[~bounced], c)
                add(audience[bounced], M_BOUNCED, sent[bounced], c)
                ok = ~bounced
                engagement(audience[ok], sent[ok], rng.random(ok.sum()), rng.random(ok.sum()), c)

        # Milestones: subscribe and unsubscribe, the welcome series, win-back.
        subs = np.flatnonzero(p.newsletter_at < NEVER)
        add(subs, M_SUBSCRIBED, p.newsletter_at[subs] + 5)
        unsub = np.flatnonzero(p.unsubscribe_at < NEVER)
        add(unsub, M_UNSUBSCRIBED, p.unsubscribe_at[unsub])
        for step, delay in enumerate((600, 2 * DAY + 600, 5 * DAY + 600)):
            t = p.newsletter_at[subs] + delay
            ok = t < p.unsubscribe_at[subs]
            who, sent = subs[ok], t[ok]
            add(who, M_RECEIVED, sent, -1, F_WELCOME)
            pid = self.pid[who]
            engagement(who, sent, _u(cfg, pid, H_FLOW, step), _u(cfg, pid, H_FLOW, step, 1), -1, F_WELCOME)
        lapsed = np.flatnonzero((p.persona == CHURNED_HV) & (p.newsletter_at < NEVER))
        t = p.order_end_at[lapsed] + 60 * DAY
        ok = (t < p.unsubscribe_at[lapsed]) & (t >= p.newsletter_at[lapsed])
        add(lapsed[ok], M_RECEIVED, t[ok], -1, F_WINBACK)
        pid = self.pid[lapsed[ok]]
        engagement(lapsed[ok], t[ok], _u(cfg, pid, H_FLOW, 9), _u(cfg, pid, H_FLOW, 9, 1), -1, F_WINBACK)

        # Orders: Placed Order, and a thank-you email to subscribers.
        has_profile = prof_at[o.person] <= o.created_at
        placed = np.flatnonzero(has_profile)
        add(o.person[placed], M_PLACED_ORDER, o.created_at[placed] + 30, -1, -1, placed)
        thank = placed[(p.newsletter_at[o.person[placed]] <= o.created_at[placed]) &
                       (o.created_at[placed] + 3 * DAY < p.unsubscribe_at[o.person[placed]])]
        sent = o.created_at[thank] + 3 * DAY
        add(o.person[thank], M_RECEIVED, sent, -1, F_POST_PURCHASE)
        pid = self.pid[o.person[thank]]
        engagement(o.person[thank], sent, _u(cfg, pid, o.number[thank], H_FLOW, 20),
                   _u(cfg, pid, o.number[thank], H_FLOW, 21), -1, F_POST_PURCHASE)

        # Abandoned carts of subscribers get a reminder four hours later.
        s = self.sessions
        _ = self.events  # computes abandoned_cart_sessions
        cart = self.abandoned_cart_sessions
        who = s.person[cart]
        t = s.start[cart] + 4 * HOUR
        ok = (p.newsletter_at[who] <= t) & (t < p.unsubscribe_at[who]) & (prof_at[who] <= t)
        who, t = who[ok], t[ok]
        add(who, M_RECEIVED, t, -1, F_ABANDONED)
        pid = self.pid[who]
        engagement(who, t, _u(cfg, pid, t, H_FLOW, 30), _u(cfg, pid, t, H_FLOW, 31), -1, F_ABANDONED)

        person = np.concatenate([x[0] for x in parts])
        metric = np.concatenate([x[1] for x in parts])
        at = np.concatenate([x[2] for x in parts])
        campaign = np.concatenate([x[3] for x in parts])
        flow = np.concatenate([x[4] for x in parts])
        order = np.concatenate([x[5] for x in parts])
        ix = np.lexsort((metric, at, person))
        return EmailEvents(person[ix], metric[ix], at[ix], campaign[ix], flow[ix], order[ix])

    # -- subscription billing ----------------------------------------------------------------
    @functools.cached_property
    def invoices(self) -> Invoices:
        p, cfg = self.people, self.cfg
        subs = np.flatnonzero(p.subscription_start_at < NEVER)
        month = int(30.4375 * DAY)
        end = np.minimum(p.subscription_end_at[subs], self.until + 40 * DAY)
        n_periods = np.maximum((end - p.subscription_start_at[subs] + month - 1) // month, 0)
        person = np.repeat(subs, n_periods)
        period = _group_rank(person)
        start = p.subscription_start_at[person] + period * month
        pid = self.pid[person]
        u = lambda *k: _u(cfg, pid, period, H_INVOICE, *k)  # noqa: E731
        amount = np.array([pl[1] for pl in ref.SUBSCRIPTION_PLANS])[p.plan[person]]
        failed = u(0) < 0.05
        paid_at = start + np.where(failed, 3 * DAY + 3600, 60 + (u(1) * 600).astype(np.int64))
        codes = np.array(["card_declined", "insufficient_funds", "expired_card"], dtype=object)
        failure_code = np.where(failed, codes[(u(2) * 3).astype(np.int64)], None)
        return Invoices(person, period, start, start + month, amount, failed, paid_at, failure_code)
