"""Klaviyo: marketing profiles (by email, and a few SMS-only ones by phone), email events,
metrics, campaigns and flows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import dirt
from .. import reference as ref
from ..activity import (
    FLOWS, KLAVIYO_METRICS, M_CLICKED, M_PLACED_ORDER, M_SUBSCRIBED, M_UNSUBSCRIBED,
    ChunkWorld, campaign_times, klaviyo_profile_at,
)
from ..calendar import DAY
from ..config import NEVER, SimulationConfig, hash64, hash_uniform
from ..ids import token_from_hash, ulid_from_hash, uuid_from_hashes
from ..population import People
from .base import Coded, Records, Rows, Window, decimal_strings, upsert_rows
from .shopify import CATALOG_CREATED_DAYS_BEFORE, AccountDetails, order_id

T_FORM, T_PROFILE, T_SMS = 11, 12, 13
H_PROFILE, H_EVENT, H_METRIC, H_CAMPAIGN, H_FLOW_ID, H_DELETE = range(500, 506)


def newsletter_email(cfg: SimulationConfig, people: People) -> np.ndarray:
    """The email each person typed into the newsletter box (a family may use one address)."""
    draws = dirt.Draws(cfg.seed, (people.person_id, T_FORM))
    partner_email = np.where(people.partner >= 0, people.email[np.maximum(people.partner, 0)], None)
    base = np.where(people.family_email & (draws.u(dirt.F_EMAIL, 9) < 0.6), partner_email, people.email)
    return dirt.email(base, draws, dirt.EmailDirt(missing=0.0, junk=0.012))


def metric_ids() -> pa.Array:
    return token_from_hash(hash64(np.arange(len(KLAVIYO_METRICS)), H_METRIC), 6)


def campaign_ids(n: int) -> pa.Array:
    return token_from_hash(hash64(np.arange(n), H_CAMPAIGN), 12)


def flow_ids() -> pa.Array:
    return token_from_hash(hash64(np.arange(len(FLOWS)), H_FLOW_ID), 6)


def campaign_names(n: int) -> tuple[np.ndarray, np.ndarray]:
    themes, words = ref.EMAIL_CAMPAIGN_THEMES, ref.EMAIL_THEME_WORDS
    names = np.array([themes[i % len(themes)].format(words[(i * 7) % len(words)]) for i in range(n)], dtype=object)
    subjects = np.array([f"{nm} \u2615" if i % 3 == 0 else nm for i, nm in enumerate(names)], dtype=object)
    return names, subjects


class Klaviyo:
    source = "klaviyo"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg
        self.sends = campaign_times(cfg)
        self.campaign_name, self.campaign_subject = campaign_names(len(self.sends))

    def global_rows(self, window: Window) -> dict[str, Rows]:
        cfg = self.cfg
        out = {}
        created = cfg.start - CATALOG_CREATED_DAYS_BEFORE * DAY
        if window.contains(np.array([created]))[0]:
            k = len(KLAVIYO_METRICS)
            shopify_metric = np.array([m == "Placed Order" for m in KLAVIYO_METRICS])
            out["metric"] = Rows({
                "id": metric_ids(), "name": np.array(KLAVIYO_METRICS, dtype=object),
                "created": np.full(k, created), "updated": np.full(k, created),
                "integration_id": np.where(shopify_metric, "0eMvjm", "0rG4eQ"),
                "integration_name": np.where(shopify_metric, "Shopify", "Klaviyo"),
                "integration_category": np.where(shopify_metric, "eCommerce", "Internal"),
                "_fivetran_deleted": False, "_fivetran_synced": window.synced_at(np.arange(k), 1),
            }, k)
            f = len(FLOWS)
            out["flow"] = Rows({
                "id": flow_ids(), "name": np.array(FLOWS, dtype=object), "status": "live",
                "archived": False, "created": np.full(f, created), "updated": np.full(f, created),
                "trigger_type": np.array(["Added to List", "Metric", "Metric", "Metric"], dtype=object),
                "_fivetran_deleted": False, "_fivetran_synced": window.synced_at(np.arange(f), 2),
            }, f)
        # Campaigns are drafted a week ahead and change when they are sent.
        n = len(self.sends)
        drafted = self.sends - 7 * DAY
        recs = Records(np.arange(n), None, drafted, None, np.arange(n), self.sends)
        ids = campaign_ids(n)

        def state(idx, at):
            sent = self.sends[idx] <= at
            return {
                "id": pc.take(ids, pa.array(idx)), "name": self.campaign_name[idx],
                "subject": self.campaign_subject[idx], "campaign_type": "regular",
                "status": np.where(sent, "Sent", "Scheduled"),
                "status_label": np.where(sent, "Sent", "Scheduled"), "status_id": np.where(sent, "1", "0"),
                "send_time": self.sends[idx], "sent_at": np.where(sent, self.sends[idx], NEVER),
                "scheduled": drafted[idx], "created": drafted[idx],
                "updated": np.where(sent, self.sends[idx], drafted[idx]),
                "from_email": "hello@northwindroasters.com", "from_name": "Northwind Roasters",
                "email_template_id": pc.take(token_from_hash(hash64(np.arange(n), 77), 6), pa.array(idx)),
                "archived": False, "_fivetran_deleted": False,
            }

        recs.state = state
        rows = upsert_rows(recs, window, 3)
        if rows.n:
            out["campaign"] = rows
        return out

    def chunk_rows(self, world: ChunkWorld, window: Window, details: AccountDetails,
                   form_email: np.ndarray) -> dict[str, Rows]:
        cfg, p, ee = self.cfg, world.people, world.email_events
        pid = p.person_id
        prof_at = klaviyo_profile_at(cfg, p)
        # Email profiles, and SMS-only profiles for some text-message subscribers.
        email_who = np.flatnonzero(prof_at < NEVER)
        sms_who = np.flatnonzero((p.sms_optin_at < NEVER) & (p.phone != None)  # noqa: E711
                                 & (hash_uniform(cfg.seed, pid, T_SMS) < 0.35))
        person = np.r_[email_who, sms_who]
        kind = np.r_[np.zeros(len(email_who), dtype=np.int64), np.ones(len(sms_who), dtype=np.int64)]
        created = np.r_[prof_at[email_who], p.sms_optin_at[sms_who]]
        h = hash64(cfg.seed, pid[person], kind, H_PROFILE)
        profile_id = ulid_from_hash(created, h)
        from_form = (kind == 0) & (p.newsletter_at[person] <= prof_at[person])
        draws = dirt.Draws(cfg.seed, (pid[person], T_PROFILE, kind))
        first, last = dirt.names(p.first_name[person], p.last_name[person], p.nickname[person], draws)
        no_name = (from_form & (draws.u(dirt.F_MISSING, 7) < 0.45)) | (kind == 1)
        first = np.where(no_name, None, np.where(from_form, first, details.first[person, 0]))
        last = np.where(no_name, None, np.where(from_form, last, details.last[person, 0]))
        email = np.where(kind == 1, None, np.where(from_form, form_email[person], details.email[person, 0]))
        # Klaviyo validates phone numbers into E.164.
        phone = np.where((kind == 1) | (~from_form & (details.phone[person, 0] != None)), p.phone[person], None)  # noqa: E711
        addr_epoch = (created >= p.moved_at[person]).astype(np.int64)
        shop_addr = {k: np.where(addr_epoch == 1, details.address[1][k][person], details.address[0][k][person])
                     for k in details.address[0]}
        geo_city = np.where(from_form & (draws.u(dirt.F_CITY, 5) < 0.7), ref.cities().city[p.address0.city[person]], None)
        deleted_at = np.where(hash_uniform(cfg.seed, h, H_DELETE) < 0.005,
                              created + (hash_uniform(cfg.seed, h, H_DELETE, 1) * 500 * DAY).astype(np.int64) + DAY, NEVER)

        # Last event per profile, as of any time.
        email_prof = np.full(p.n, -1, dtype=np.int64)
        email_prof[email_who] = np.arange(len(email_who))
        ev_prof = email_prof[ee.person]
        ok = ev_prof >= 0
        ev_rec, ev_at = ev_prof[ok], ee.at[ok]
        order_ = np.lexsort((ev_at, ev_rec))
        ev_rec, ev_at = ev_rec[order_], ev_at[order_]
        comb = ev_rec * (1 << 40) + (ev_at - cfg.start + (1 << 36))

        def last_event(idx, at):
            q = idx * (1 << 40) + (np.minimum(at, cfg.start + (1 << 38)) - cfg.start + (1 << 36))
            pos = np.searchsorted(comb, q, side="right") - 1
            ok_ = (pos >= 0) & (ev_rec[np.maximum(pos, 0)] == idx) if len(ev_rec) else np.zeros(len(idx), dtype=bool)
            return np.where(ok_, ev_at[np.maximum(pos, 0)] if len(ev_at) else 0, NEVER)

        city_ix = p.address0.city[person]
        tz = np.array([ref.timezone_of_city(i) for i in range(len(ref.cities().city))], dtype=object)
        # Profiles change when a person subscribes or unsubscribes, and with each event
        # (Klaviyo keeps last_event_date on the profile).
        change_rec = np.r_[ev_rec, np.arange(len(person)), np.arange(len(person))]
        change_at = np.r_[ev_at, np.where(kind == 0, p.unsubscribe_at[person], NEVER), deleted_at]
        recs = Records(profile_id.to_numpy(zero_copy_only=False), pid[person], created, None, change_rec, change_at)

        def state(idx, at):
            company = p.company[person[idx]]
            return {
                "id": pc.take(profile_id, pa.array(idx)), "email": email[idx], "phone_number": phone[idx],
                "first_name": first[idx], "last_name": last[idx],
                "address_1": np.where(from_form[idx], None, shop_addr["street"][idx]),
                "address_2": np.where(from_form[idx], None, shop_addr["line2"][idx]),
                "city": np.where(from_form[idx], geo_city[idx], shop_addr["city"][idx]),
                "region": np.where(from_form[idx], None, shop_addr["region"][idx]),
                "zip": np.where(from_form[idx], None, shop_addr["postcode"][idx]),
                "country": np.where(from_form[idx], None, shop_addr["country"][idx]),
                "timezone": Coded(city_ix[idx], tz), "organization": np.where(from_form[idx], None, company),
                "title": None, "latitude": None, "longitude": None,
                "created": created[idx], "updated": recs.latest_change(idx, at),
                "last_event_date": last_event(idx, at),
                "_fivetran_deleted": deleted_at[idx] <= at,
            }

        recs.state = state
        out = {"person": upsert_rows(recs, window, 4)}

        # Events: they reach Klaviyo's API at once, so the window is on event time.
        m = np.flatnonzero(window.contains(ee.at) & (email_prof[ee.person] >= 0))
        ev_person = ee.person[m]
        metric, at = ee.metric[m], ee.at[m]
        camp, flow, order = ee.campaign[m], ee.flow[m], ee.order[m]
        o = world.orders
        has_order = (order >= 0) & (len(o.person) > 0)
        oi = np.where(has_order, order, 0)
        if len(o.person):
            oid = np.where(has_order, order_id(pid[o.person[oi]], o.number[oi]), 0)
            value = np.where(has_order, o.total[oi], np.nan)
        else:
            oid, value = np.zeros(len(m), dtype=np.int64), np.full(len(m), np.nan)
        # The event id hashes what the event is (the order by its id, not its position).
        eh = hash64(cfg.seed, pid[ev_person], metric, at, camp, flow, oid, H_EVENT)
        flow_subjects = ["Welcome to Northwind Roasters", "You left something in your cart",
                         "Thanks for your order", "We miss you: 15% off your next bag"]
        subject = np.where(camp >= 0, self.campaign_subject[np.maximum(camp, 0)],
                           np.where(flow >= 0, np.array(flow_subjects, dtype=object)[np.maximum(flow, 0)], None))
        item_names = np.full(len(m), None, dtype=object)
        products = ref.products()
        for i in np.flatnonzero(metric == M_PLACED_ORDER):
            k = order[i]
            item_names[i] = "[" + ",".join(f'"{products.title[world.lines.product[j]]}"' for j in
                                          range(o.line_start[k], o.line_start[k] + o.line_count[k])) + "]"
        msg = np.where(flow >= 0, flow * 10 + (hash_uniform(cfg.seed, eh, 3) * 3).astype(np.int64), -1)
        out["event"] = Rows({
            "id": token_from_hash(eh, 11), "uuid": uuid_from_hashes(eh, hash64(eh, 2)),
            "person_id": pc.take(profile_id, pa.array(email_prof[ev_person])),
            "metric_id": pc.take(metric_ids(), pa.array(metric)), "type": Coded(metric, list(KLAVIYO_METRICS)),
            "campaign_id": pc.take(campaign_ids(len(self.sends)), pa.array(camp, mask=camp < 0)),
            "flow_id": pc.take(flow_ids(), pa.array(flow, mask=flow < 0)),
            "flow_message_id": Coded(msg, [f"W{i:04d}" for i in range(len(FLOWS) * 10)]),
            "_variation": None, "datetime": at, "timestamp": at,
            "property_value": pc.if_else(pa.array(order >= 0), decimal_strings(np.nan_to_num(value)),
                                         pa.nulls(len(m), pa.string())),
            "property_attribution": None, "property_subject": subject,
            "property_campaign_name": np.where(camp >= 0, self.campaign_name[np.maximum(camp, 0)], None),
            "property_url": np.where(metric == M_CLICKED, ref.SITE + "/collections/coffee", None),
            "property_list": np.where(np.isin(metric, [M_SUBSCRIBED, M_UNSUBSCRIBED]), "Newsletter", None),
            "property_order_id": np.where(order >= 0, oid.astype(str).astype(object), None),
            "property_item_names": item_names, "_fivetran_deleted": False,
            "_fivetran_synced": window.synced_at(eh.astype(np.int64)),
        }, len(m), pid[ev_person], None)
        return out
