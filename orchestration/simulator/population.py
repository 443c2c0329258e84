"""The people of the simulated world: who they are and the milestones of their lives.

A :class:`People` holds one chunk of people as numpy arrays: true names, contact
details, addresses (before and after a move), households, devices, persona and the
times at which they first visit, sign up, order, subscribe, churn and so on. Recurring
activity (sessions, repeat orders, tickets, emails) is drawn later, per epoch, in
:mod:`.activity`, from the rates set here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import reference as ref
from .calendar import DAY
from .config import (
    ACCOUNT_P, AT_RISK_SUB, BUYER_PERSONAS, CHUNK_SIZE, CHURNED_HV, CONTACT_P, EPOCH_DAYS,
    LEAD_P, NEVER, NEWCOMER_SHARE, NEWSLETTER_P, ONE_TIME, OPEN_RATE, PERSONA_SHARE, PROSPECT, REGULAR_SUB, REPEAT, SUBSCRIBER_PERSONAS,
    TICKET_RATE, VIP_SUB, SimulationConfig, stream,
)

EXISTING, NEWCOMERS = 0, 1
# Random-stream component numbers (part of the determinism contract).
C_PEOPLE = 1

# Device slots every person may have (desktop web, mobile web, iOS app); web slots may get
# a new cookie (anonymous id), phones are replaced or handed over.
DESKTOP, MOBILE_WEB, IOS_APP = 0, 1, 2


@dataclass(frozen=True)
class ChunkSpec:
    kind: int
    index: int
    first_person_id: int
    size: int
    seen_lo: int
    seen_hi: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.kind, self.index)


def chunk_specs(cfg: SimulationConfig, until: int) -> list[ChunkSpec]:
    """Every chunk of people whose first visit can fall before ``until``."""
    specs = []
    n_existing = math.ceil(cfg.profiles / CHUNK_SIZE)
    for c in range(n_existing):
        lo = c * CHUNK_SIZE
        specs.append(ChunkSpec(EXISTING, c, 1 + lo, min(CHUNK_SIZE, cfg.profiles - lo),
                               cfg.start, cfg.as_of))
    m = cfg.newcomers_per_epoch
    cohort = 0
    while cfg.as_of + cohort * EPOCH_DAYS * DAY < until:
        lo = cfg.as_of + cohort * EPOCH_DAYS * DAY
        specs.append(ChunkSpec(NEWCOMERS, cohort, 1 + cfg.profiles + cohort * m, m,
                               lo, lo + EPOCH_DAYS * DAY))
        cohort += 1
    return specs


@dataclass
class Address:
    city: np.ndarray       # index into reference.cities()
    street_no: np.ndarray
    street: np.ndarray     # street name
    suffix: np.ndarray     # index into STREET_SUFFIXES
    unit: np.ndarray       # "Apt 4B" or None
    postcode: np.ndarray

    def take(self, idx: np.ndarray) -> "Address":
        return Address(*(getattr(self, f)[idx] for f in
                         ("city", "street_no", "street", "suffix", "unit", "postcode")))


@dataclass
class People:
    spec: ChunkSpec
    person_id: np.ndarray
    persona: np.ndarray
    female: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    nickname: np.ndarray          # a common short form of the first name, or None
    birth_date: np.ndarray        # days since 1970-01-01
    partner: np.ndarray           # local index of the household partner, -1 if none
    household_id: np.ndarray
    family_email: np.ndarray      # True: this person also uses the partner's email
    address0: Address             # before moved_at
    address1: Address             # from moved_at
    moved_at: np.ndarray
    email: np.ndarray             # personal email (true, clean)
    email_alt: np.ndarray         # a second address (work or old), or None
    company: np.ndarray           # employer name, or None
    phone: np.ndarray             # E.164, or None
    has_slot: np.ndarray          # (n, 3) bool: desktop, mobile web, iOS app
    slot_switch_at: np.ndarray    # (n, 3) time the slot's anonymous id changes (cookie reset, new phone)
    handover_from: np.ndarray     # local index of the partner whose old phone this person gets, -1
    first_seen_at: np.ndarray
    signup_at: np.ndarray         # Shopify account created (NEVER: no account)
    first_order_at: np.ndarray
    order_end_at: np.ndarray      # repeat orders stop here
    subscription_start_at: np.ndarray
    subscription_end_at: np.ndarray
    plan: np.ndarray
    active_end_at: np.ndarray     # browsing stops here
    newsletter_at: np.ndarray
    unsubscribe_at: np.ndarray
    engagement_decline_at: np.ndarray
    sms_optin_at: np.ndarray
    ticket_surge_at: np.ndarray
    lead_at: np.ndarray
    contact_at: np.ndarray
    fav_category: np.ndarray

    @property
    def n(self) -> int:
        return len(self.person_id)


def _exp_days(rng: np.random.Generator, mean_days: float, n: int) -> np.ndarray:
    return (rng.exponential(mean_days, n) * DAY).astype(np.int64)


def _uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo + 1)
    return lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def _email_code(person_id: np.ndarray, modulus: int, multiplier: int, offset: int) -> np.ndarray:
    """A bijection of person ids onto ``[0, modulus)``: digits that keep emails unique."""
    return (person_id.astype(np.int64) * multiplier + offset) % modulus


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _postcode(city: int, u: float, v: float) -> str:
    cities = ref.cities()
    country = cities.country[city]
    low, high = cities.postcode_low[city], cities.postcode_high[city]
    if country in ("US", "DE", "AU"):
        width = len(low)
        value = int(low) + int(u * (int(high) - int(low) + 1))
        return str(value).zfill(width)
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    if country == "CA":
        fsa = low[0] + str(int(u * 9) + 1) + letters[int(v * len(letters))]
        return f"{fsa} {int(v * 9)}{letters[int(u * 20)]}{int(u * 97) % 10}"
    # GB: outward code from the city's area, inward code digit + two letters.
    area = "".join(ch for ch in low if ch.isalpha())
    return f"{area}{int(u * 18) + 1} {int(v * 9) + 1}{letters[int(u * 20)]}{letters[int(v * 20)]}"


def _addresses(rng: np.random.Generator, n: int) -> Address:
    cities = ref.cities()
    city = rng.choice(len(cities.city), size=n, p=cities.p)
    street_no = np.minimum(np.exp(rng.normal(5.6, 1.3, n)).astype(np.int64) + 1, 19999)
    street = ref.STREET_NAMES[rng.integers(0, len(ref.STREET_NAMES), n)]
    suffix = rng.integers(0, len(ref.STREET_SUFFIXES), n)
    has_unit = rng.random(n) < 0.18
    unit_no = rng.integers(1, 40, n)
    unit_letter = np.array(list("ABCDEF"), dtype=object)[rng.integers(0, 6, n)]
    unit = np.array([f"Apt {a}{b}" if h else None for h, a, b in zip(has_unit, unit_no, unit_letter)],
                    dtype=object)
    u, v = rng.random(n), rng.random(n)
    postcode = np.array([_postcode(c, a, b) for c, a, b in zip(city, u, v)], dtype=object)
    return Address(city, street_no, street, suffix, unit, postcode)


def _phone(city: int, code: int, u: float) -> str:
    cities = ref.cities()
    country = cities.country[city]
    areas = cities.area_codes[city]
    area = areas[int(u * len(areas))]
    if country in ("US", "CA"):
        local = 2_000_000 + code % 8_000_000  # exchange numbers never start with 0 or 1
        return f"+1{area}{local:07d}"
    # Elsewhere: the national number after the area code fills the country's usual length.
    national_len = {"GB": 10, "DE": 10, "AU": 9}[country]
    rest = national_len - len(area)
    prefix = {"GB": "+44", "DE": "+49", "AU": "+61"}[country]
    return f"{prefix}{area}{code % 10 ** rest:0{rest}d}"


def make_people(cfg: SimulationConfig, spec: ChunkSpec) -> People:
    rng = stream(cfg, spec.kind, spec.index, C_PEOPLE)
    n = spec.size
    cal = cfg.calendar()
    names = ref.names()
    person_id = spec.first_person_id + np.arange(n, dtype=np.int64)
    share = PERSONA_SHARE if spec.kind == EXISTING else NEWCOMER_SHARE
    persona = rng.choice(len(share), size=n, p=share / share.sum())

    # --- names -----------------------------------------------------------------------
    female = rng.random(n) < 0.52
    first = np.where(
        female,
        rng.choice(names.first_female, size=n, p=names.first_female_p),
        rng.choice(names.first_male, size=n, p=names.first_male_p),
    )
    last = rng.choice(names.last, size=n, p=names.last_p)
    nick_u = rng.random(n)
    nickname = np.array(
        [names.nicknames[f][int(u * len(names.nicknames[f]))] if f in names.nicknames else None
         for f, u in zip(first, nick_u)],
        dtype=object,
    )
    age_years = np.clip(rng.normal(41, 13, n), 18, 88)
    birth_date = ((cfg.as_of // DAY) - (age_years * 365.25).astype(np.int64)).astype(np.int64)

    # --- households: adjacent people pair up ---------------------------------------------
    partner = np.full(n, -1, dtype=np.int64)
    pair_start = np.arange(0, n - 1, 2)
    paired = pair_start[rng.random(len(pair_start)) < 0.09]
    partner[paired], partner[paired + 1] = paired + 1, paired
    household_id = person_id.copy()
    household_id[paired + 1] = person_id[paired]
    same_surname = rng.random(len(paired)) < 0.8
    last[paired[same_surname] + 1] = last[paired[same_surname]]
    birth_date[paired + 1] = birth_date[paired] + rng.integers(-2000, 2000, len(paired))
    # About a third of couples share one email address in some systems.
    family_email = np.zeros(n, dtype=bool)
    shares = paired[rng.random(len(paired)) < 0.35]
    family_email[shares + 1] = True

    # --- addresses and moves -----------------------------------------------------------
    address0 = _addresses(rng, n)
    address1 = _addresses(rng, n)
    stay_in_city = rng.random(n) < 0.5
    address1.city = np.where(stay_in_city, address0.city, address1.city)
    address1.postcode = np.array(
        [p1 if not s else _postcode(c, u, v)
         for p1, s, c, u, v in zip(address1.postcode, stay_in_city, address0.city, rng.random(n), rng.random(n))],
        dtype=object,
    )
    for field in ("city", "street_no", "street", "suffix", "unit", "postcode"):
        for arr in (getattr(address0, field), getattr(address1, field)):
            arr[paired + 1] = arr[paired]

    # --- first visit and milestones ----------------------------------------------------
    min_tenure = np.zeros(n, dtype=np.int64)
    if spec.kind == EXISTING:
        tenure_days = {VIP_SUB: 200, AT_RISK_SUB: 260, CHURNED_HV: 470, REGULAR_SUB: 60, REPEAT: 60}
        for p, d in tenure_days.items():
            min_tenure[persona == p] = d * DAY
    first_seen = cal.sample(rng, np.full(n, spec.seen_lo), np.full(n, spec.seen_hi) - min_tenure)

    has_account = rng.random(n) < ACCOUNT_P[persona]
    same_day = rng.random(n) < 0.5
    signup_gap = np.where(same_day, (rng.random(n) * 3 * 3600).astype(np.int64) + 300,
                          _exp_days(rng, 6, n) + 3600)
    signup_at = np.where(has_account, first_seen + signup_gap, NEVER)

    is_buyer = np.isin(persona, BUYER_PERSONAS)
    in_signup_session = rng.random(n) < 0.6
    order_gap = np.where(in_signup_session, (rng.random(n) * 1800).astype(np.int64) + 240,
                         _exp_days(rng, 4, n) + 3600)
    first_order_at = np.where(is_buyer, signup_at + order_gap, NEVER)

    is_sub = np.isin(persona, SUBSCRIBER_PERSONAS)
    at_first_order = rng.random(n) < 0.3
    sub_gap = np.where(at_first_order, 0, _exp_days(rng, 25, n) + DAY)
    subscription_start = np.where(is_sub, first_order_at + sub_gap, NEVER)
    plan_weights = np.array([p[2] for p in ref.SUBSCRIPTION_PLANS], dtype=np.float64)
    plan = rng.choice(len(plan_weights), size=n, p=plan_weights / plan_weights.sum())

    as_of = cfg.as_of
    order_end = np.full(n, NEVER, dtype=np.int64)
    sub_end = np.full(n, NEVER, dtype=np.int64)
    order_end[persona == ONE_TIME] = first_order_at[persona == ONE_TIME]
    rep = persona == REPEAT
    order_end[rep] = first_order_at[rep] + (np.exp(rng.normal(5.4, 0.7, rep.sum())) * DAY).astype(np.int64)
    reg = persona == REGULAR_SUB
    sub_end[reg] = subscription_start[reg] + _exp_days(rng, 3 * 365, reg.sum())
    order_end[reg] = sub_end[reg]
    vip = persona == VIP_SUB
    sub_end[vip] = np.maximum(subscription_start[vip], as_of) + _exp_days(rng, 2 * 365, vip.sum())
    order_end[vip] = sub_end[vip]
    risk = persona == AT_RISK_SUB
    stop = as_of - ((65 + rng.random(risk.sum()) * 95) * DAY).astype(np.int64)
    order_end[risk] = np.maximum(stop, first_order_at[risk] + 30 * DAY)
    will_cancel = rng.random(risk.sum()) < 0.6
    sub_end[risk] = np.where(will_cancel, as_of + ((10 + rng.random(risk.sum()) * 140) * DAY).astype(np.int64), NEVER)
    churn = persona == CHURNED_HV
    churn_at = as_of - ((100 + rng.random(churn.sum()) * 320) * DAY).astype(np.int64)
    churn_at = np.maximum(churn_at, subscription_start[churn] + 60 * DAY)
    order_end[churn] = churn_at
    sub_end[churn] = churn_at
    sub_end = np.where(is_sub, sub_end, NEVER)

    # Browsing stops some time after the person stops being a customer.
    active_end = np.full(n, NEVER, dtype=np.int64)
    anon = persona == 0
    active_end[anon] = first_seen[anon] + _exp_days(rng, 25, anon.sum()) + DAY
    pro = persona == PROSPECT
    active_end[pro] = first_seen[pro] + _exp_days(rng, 150, pro.sum()) + DAY
    one = persona == ONE_TIME
    active_end[one] = first_order_at[one] + _exp_days(rng, 70, one.sum())
    active_end[rep] = order_end[rep] + _exp_days(rng, 40, rep.sum())
    for mask in (reg, vip):
        active_end[mask] = np.where(sub_end[mask] >= NEVER, NEVER, sub_end[mask] + _exp_days(rng, 20, mask.sum()))
    active_end[risk] = order_end[risk] + ((30 + rng.random(risk.sum()) * 30) * DAY).astype(np.int64)
    active_end[churn] = churn_at + _exp_days(rng, 20, churn.sum())

    # Newsletter and email engagement.
    wants_news = rng.random(n) < NEWSLETTER_P[persona]
    news_at_signup = rng.random(n) < 0.5
    news_gap = _exp_days(rng, 10, n) + 600
    newsletter_at = np.where(
        wants_news,
        np.where(has_account & news_at_signup, signup_at + 120, first_seen + news_gap),
        NEVER,
    )
    unsubscribe_at = np.full(n, NEVER, dtype=np.int64)
    lapsed = wants_news & (rng.random(n) < 0.35)
    unsubscribe_at[lapsed] = newsletter_at[lapsed] + _exp_days(rng, 900, lapsed.sum())
    risk_unsub = wants_news & risk & (rng.random(n) < 0.35)
    unsubscribe_at[risk_unsub] = as_of - ((rng.random(risk_unsub.sum()) * 90) * DAY).astype(np.int64)
    churn_unsub = wants_news & churn & (rng.random(n) < 0.4)
    unsubscribe_at[churn_unsub] = order_end[churn_unsub] + _exp_days(rng, 30, churn_unsub.sum())
    unsubscribe_at = np.where(unsubscribe_at < NEVER, np.maximum(unsubscribe_at, newsletter_at + DAY), NEVER)
    engagement_decline_at = np.full(n, NEVER, dtype=np.int64)
    engagement_decline_at[risk] = as_of - 150 * DAY
    engagement_decline_at[churn] = order_end[churn]
    sms_optin_at = np.where(is_buyer & (rng.random(n) < 0.15), first_order_at + _exp_days(rng, 30, n), NEVER)
    ticket_surge_at = np.where(risk, as_of - 75 * DAY, NEVER)

    # CRM: some prospects are B2B leads; some customers are contacts at companies.
    lead_at = np.where(rng.random(n) < LEAD_P[persona], first_seen + _exp_days(rng, 20, n), NEVER)
    contact_at = np.where((rng.random(n) < CONTACT_P[persona]) & is_buyer,
                          first_order_at + _exp_days(rng, 90, n), NEVER)
    from_lead = (contact_at < NEVER) & (rng.random(n) < 0.5)
    lead_at = np.where(from_lead, np.maximum(first_seen, contact_at - _exp_days(rng, 30, n) - DAY), lead_at)

    # --- contact details ---------------------------------------------------------------
    email_modulus = 10 ** max(4, len(str(cfg.profiles * 4)))
    code = _email_code(person_id, email_modulus, 2_654_435_761, 12_345)
    alt_code = _email_code(person_id, email_modulus, 40_503, 977)
    domain = rng.choice(ref.PERSONAL_DOMAINS, size=n, p=ref.PERSONAL_DOMAINS_P)
    pattern = rng.integers(0, 6, n)
    email = np.empty(n, dtype=object)
    for i in range(n):
        f, l, c = _slug(first[i]), _slug(last[i]), code[i]
        local = (f"{f}.{l}{c}", f"{f}{l}{c}", f"{f[0]}{l}{c}", f"{f}_{l}{c}", f"{l}.{f}{c}", f"{f}{c}")[pattern[i]]
        email[i] = f"{local}@{domain[i]}"
    has_company = (contact_at < NEVER) | (lead_at < NEVER) | (rng.random(n) < 0.12)
    company_idx = rng.integers(0, len(ref.COMPANY_WORDS), n)
    company = np.where(has_company, ref.COMPANY_WORDS[company_idx], None)
    has_alt = has_company | (rng.random(n) < 0.1)
    email_alt = np.empty(n, dtype=object)
    for i in range(n):
        if not has_alt[i]:
            email_alt[i] = None
        elif company[i] is not None:
            email_alt[i] = f"{_slug(first[i])[0]}{_slug(last[i])}{alt_code[i]}@{_slug(company[i])}.com"
        else:
            email_alt[i] = f"{_slug(first[i])}.{_slug(last[i])}.{alt_code[i]}@{ref.PERSONAL_DOMAINS[(i + 3) % 5]}"
    phone_code = _email_code(person_id, 7_999_993, 48_271, 1_000)  # bijective: 7,999,993 is prime
    has_phone = rng.random(n) < 0.8
    phone_u = rng.random(n)
    phone = np.array([_phone(c, pc, u) if h else None
                      for c, pc, u, h in zip(address0.city, phone_code, phone_u, has_phone)], dtype=object)
    company = np.where(has_company, company, None)

    # --- devices -----------------------------------------------------------------------
    has_slot = np.column_stack([
        rng.random(n) < 0.75,
        rng.random(n) < 0.8,
        is_buyer & (rng.random(n) < 0.22),
    ])
    none = ~has_slot.any(axis=1)
    has_slot[none, DESKTOP] = True
    # Web cookies get reset now and then; phones are replaced.
    span_end = np.minimum(active_end, as_of + 2 * 365 * DAY)
    switch = np.full((n, 3), NEVER, dtype=np.int64)
    for slot, p in ((DESKTOP, 0.3), (MOBILE_WEB, 0.25), (IOS_APP, 0.1)):
        hit = rng.random(n) < p
        switch[:, slot] = np.where(hit, _uniform_between(rng, first_seen, span_end), NEVER)
    # Shared phones: a partner hands their old phone to the other, who logs in on it.
    handover_from = np.full(n, -1, dtype=np.int64)
    giver, taker = paired, paired + 1
    phone_slot = np.where(has_slot[giver, IOS_APP], IOS_APP, MOBILE_WEB)
    can = (has_slot[giver, MOBILE_WEB] | has_slot[giver, IOS_APP]) & (signup_at[taker] < NEVER)
    can &= rng.random(len(paired)) < 0.3
    for g, t, s in zip(giver[can], taker[can], phone_slot[can]):
        lo = max(first_seen[g], signup_at[t]) + 7 * DAY
        at = lo + int(rng.random() * 400 * DAY)
        switch[g, s] = at
        switch[t, s] = at
        has_slot[t, s] = True
        handover_from[t] = g
        active_end[t] = max(active_end[t], at + 30 * DAY)

    fav_category = rng.integers(0, len(ref.products().categories), n)
    moves = rng.random(n) < 0.15
    moved_at = np.where(moves, _uniform_between(rng, first_seen, first_seen + 3 * 365 * DAY), NEVER)

    return People(
        spec=spec, person_id=person_id, persona=persona, female=female, first_name=first,
        last_name=last, nickname=nickname, birth_date=birth_date, partner=partner,
        household_id=household_id, family_email=family_email, address0=address0,
        address1=address1, moved_at=moved_at,
        email=email, email_alt=email_alt, company=company, phone=phone, has_slot=has_slot,
        slot_switch_at=switch, handover_from=handover_from, first_seen_at=first_seen,
        signup_at=signup_at, first_order_at=first_order_at, order_end_at=order_end,
        subscription_start_at=subscription_start, subscription_end_at=sub_end, plan=plan,
        active_end_at=active_end, newsletter_at=newsletter_at, unsubscribe_at=unsubscribe_at,
        engagement_decline_at=engagement_decline_at, sms_optin_at=sms_optin_at,
        ticket_surge_at=ticket_surge_at, lead_at=lead_at, contact_at=contact_at,
        fav_category=fav_category,
    )


def open_probability(people: People, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Chance that person ``idx`` opens an email sent at ``t`` (declines for the at-risk)."""
    base = OPEN_RATE[people.persona[idx]]
    decline_at = people.engagement_decline_at[idx]
    days_in = np.clip((t - decline_at) / DAY, 0, None)
    factor = np.where(t > decline_at, np.maximum(0.1, 1.0 - days_in / 120.0), 1.0)
    return base * factor


def ticket_rate(people: People, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    base = TICKET_RATE[people.persona[idx]]
    return np.where(t >= people.ticket_surge_at[idx], base * 8.0, base)
