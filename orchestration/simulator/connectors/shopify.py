"""The Shopify store: customer accounts, orders with addresses, line items, refunds."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .. import dirt
from .. import reference as ref
from ..activity import ChunkWorld
from ..calendar import DAY, HOUR
from ..config import NEVER, SimulationConfig, hash64, hash_uniform
from ..population import Address, _addresses
from .base import Records, Rows, Window, money_set, upsert_rows
from .web import device_ip, device_user_agent, landing_page_url

T_CUSTOMER, T_ORDER, T_ORDER_ADDRESS, T_GIFT = 1, 2, 3, 4
CATALOG_CREATED_DAYS_BEFORE = 400
WEB_APP_ID, IOS_APP_ID, POS_APP_ID = 580111, 1354745, 129785


def customer_id(person_id: np.ndarray, account: np.ndarray) -> np.ndarray:
    return 6_100_000_000_000 + person_id.astype(np.int64) * 10 + account


def order_id(person_id: np.ndarray, number: np.ndarray) -> np.ndarray:
    return 4_500_000_000_000 + person_id.astype(np.int64) * 1000 + number


def product_id(key: np.ndarray) -> np.ndarray:
    return 7_000_000_000 + np.asarray(key, dtype=np.int64)


def variant_id(key: np.ndarray, variant: np.ndarray) -> np.ndarray:
    return 40_000_000_000 + np.asarray(key, dtype=np.int64) * 10 + variant


def handle(title: str) -> str:
    return "-".join("".join(ch for ch in word if ch.isalnum()) for word in title.lower().split()).strip("-")


def sku(key: int, variant: int) -> str:
    return f"NWR-{key:03d}-{variant + 1}"


@functools.lru_cache(maxsize=8)
def _catalog_time(start: int) -> int:
    return start - CATALOG_CREATED_DAYS_BEFORE * DAY


class AccountDetails:
    """How each person typed their details into their Shopify account(s): the strings the
    account holds, which the website also sends to Segment in ``identify`` calls."""

    def __init__(self, cfg: SimulationConfig, world: ChunkWorld):
        p = world.people
        n = p.n
        self.email = np.empty((n, 2), dtype=object)
        self.first = np.empty((n, 2), dtype=object)
        self.last = np.empty((n, 2), dtype=object)
        self.phone = np.empty((n, 2), dtype=object)
        for account in (0, 1):
            draws = dirt.Draws(cfg.seed, (p.person_id, T_CUSTOMER, account))
            base = p.email if account == 0 else np.where(p.email_alt != None, p.email_alt, p.email)  # noqa: E711
            partner_email = np.where(p.partner >= 0, p.email[np.maximum(p.partner, 0)], None)
            family = p.family_email & (draws.u(dirt.F_EMAIL, 9) < 0.6)
            base = np.where(family, partner_email, base)
            self.email[:, account] = dirt.email(base, draws, dirt.EmailDirt(missing=0.0))
            first, last = dirt.names(p.first_name, p.last_name, p.nickname, draws,
                                     dirt.NameDirt(missing_first=0.02, missing_last=0.02))
            self.first[:, account], self.last[:, account] = first, last
            self.phone[:, account] = dirt.phone(p.phone, draws, dirt.PhoneDirt(present=0.45))
        # The address people saved in their account, before and after a move.
        self.address = []
        for epoch, addr in enumerate((p.address0, p.address1)):
            draws = dirt.Draws(cfg.seed, (p.person_id, T_ORDER_ADDRESS, epoch))
            self.address.append(dirt.address(addr, draws, dirt.AddressDirt(missing=0.0)))


class Shopify:
    source = "shopify"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg

    # -- catalogue ---------------------------------------------------------------------------
    def global_rows(self, window: Window) -> dict[str, Rows]:
        products = ref.products()
        created = _catalog_time(self.cfg.start)
        if not window.contains(np.array([created]))[0]:
            return {}
        n = len(products.key)
        pid = product_id(products.key)
        product_rows = Rows({
            "id": pid, "title": products.title,
            "handle": np.array([handle(t) for t in products.title], dtype=object),
            "product_type": products.category, "vendor": "Northwind Roasters", "status": "active",
            "published_scope": "web", "created_at": np.full(n, created), "updated_at": np.full(n, created),
            "published_at": np.full(n, created + DAY), "_fivetran_deleted": np.zeros(n, dtype=bool),
            "_fivetran_synced": window.synced_at(pid),
        }, n)
        keys = np.repeat(products.key, [len(v) for v in products.variants])
        var_ix = np.concatenate([np.arange(len(v)) for v in products.variants])
        titles = np.array([v for vs in products.variants for v in vs], dtype=object)
        prod_ix = np.searchsorted(products.key, keys)
        price = products.price[prod_ix]
        price = np.where(titles == "$25", 25.0, np.where(titles == "$100", 100.0, price))
        vid = variant_id(keys, var_ix)
        m = len(vid)
        variant_rows = Rows({
            "id": vid, "product_id": product_id(keys), "title": titles, "price": price,
            "sku": np.array([sku(k, v) for k, v in zip(keys, var_ix)], dtype=object),
            "position": var_ix + 1, "inventory_policy": "deny", "compare_at_price": None,
            "taxable": products.category[prod_ix] != "Gift Cards", "option_1": titles,
            "inventory_quantity": 50 + (hash_uniform(self.cfg.seed, vid) * 500).astype(np.int64),
            "inventory_item_id": vid + 1_000_000_000, "fulfillment_service": "manual",
            "inventory_management": "shopify", "requires_components": False,
            "available_for_sale": True,
            "display_name": np.array([f"{products.title[i]} - {t}" for i, t in zip(prod_ix, titles)], dtype=object),
            "grams": np.where(products.category[prod_ix] == "Coffee Beans", 340.0, 1200.0),
            "weight": np.where(products.category[prod_ix] == "Coffee Beans", 0.75, 2.6), "weight_unit": "lb",
            "created_at": np.full(m, created), "updated_at": np.full(m, created),
            "_fivetran_synced": window.synced_at(vid),
        }, m)
        return {"product": product_rows, "product_variant": variant_rows}

    # -- per chunk ---------------------------------------------------------------------------
    def chunk_rows(self, world: ChunkWorld, window: Window, details: AccountDetails) -> dict[str, Rows]:
        cfg, p, o = self.cfg, world.people, world.orders
        pid = p.person_id
        account_created = world.shopify_account_created_at()
        has = account_created < NEVER
        person = np.concatenate([np.flatnonzero(has[:, 0]), np.flatnonzero(has[:, 1])])
        account = np.concatenate([np.zeros(has[:, 0].sum(), dtype=np.int64), np.ones(has[:, 1].sum(), dtype=np.int64)])
        created = account_created[person, account]
        cid = customer_id(pid[person], account)
        u = lambda *k: hash_uniform(cfg.seed, cid, *k)  # noqa: E731
        deleted_at = np.where(u(1) < 0.005, created + (np.exp(u(2) * 7) * DAY).astype(np.int64) + DAY, NEVER)

        # Orders belong to an account; index orders by customer record for as-of sums.
        account_key = person * 2 + account
        by_key = np.argsort(account_key, kind="stable")
        order_rec = by_key[np.searchsorted(account_key, o.person * 2 + o.account, sorter=by_key)]
        by_rec = np.lexsort((o.created_at, order_rec))
        rec_sorted, t_sorted = order_rec[by_rec], o.created_at[by_rec]
        kept_total = np.where(o.cancelled_at < NEVER, 0.0, o.total)[by_rec]
        cum_total = np.r_[0.0, np.cumsum(kept_total)]
        comb = rec_sorted * (1 << 40) + np.minimum(t_sorted - cfg.start + (1 << 36), (1 << 40) - 1)

        def orders_as_of(idx, at):
            q = idx * (1 << 40) + np.minimum(at - cfg.start + (1 << 36), (1 << 40) - 1)
            hi = np.searchsorted(comb, q, side="right")
            lo = np.searchsorted(comb, idx * (1 << 40), side="left")
            return hi - lo, cum_total[hi] - cum_total[lo]

        wholesale = p.contact_at < NEVER
        newsletter_at, unsub_at, sms_at = p.newsletter_at[person], p.unsubscribe_at[person], p.sms_optin_at[person]
        main = account == 0
        change_rec = np.concatenate([order_rec, np.arange(len(person)), np.arange(len(person)),
                                     np.arange(len(person)), np.arange(len(person))])
        change_at = np.concatenate([o.created_at, np.where(main, newsletter_at, NEVER),
                                    np.where(main, unsub_at, NEVER), np.where(main, sms_at, NEVER), deleted_at])
        records = Records(cid, pid[person], created, None, change_rec, change_at)
        email, first, last, phone = (details.email[person, account], details.first[person, account],
                                     details.last[person, account], details.phone[person, account])

        def customer_state(idx, at):
            count, spent = orders_as_of(idx, at)
            subscribed = main[idx] & (newsletter_at[idx] <= at) & (at < unsub_at[idx])
            unsubscribed = main[idx] & (unsub_at[idx] <= at)
            consent_at = np.where(unsubscribed, unsub_at[idx], np.where(subscribed, newsletter_at[idx], NEVER))
            sms = main[idx] & (sms_at[idx] <= at)
            return {
                "id": cid[idx], "email": email[idx], "first_name": first[idx], "last_name": last[idx],
                "phone": phone[idx], "created_at": created[idx], "updated_at": records.latest_change(idx, at),
                "orders_count": count, "total_spent": np.round(spent, 2),
                "state": np.where(main[idx], "enabled", "disabled"), "verified_email": main[idx],
                "tax_exempt": False, "currency": "USD", "note": None,
                "default_address_id": cid[idx] + 900_000_000_000,
                "accepts_marketing": subscribed, "accepts_marketing_updated_at": consent_at,
                "marketing_opt_in_level": np.where(subscribed, "single_opt_in", None),
                "email_marketing_consent_state": np.where(subscribed, "subscribed", np.where(unsubscribed, "unsubscribed", "not_subscribed")),
                "email_marketing_consent_opt_in_level": np.where(subscribed | unsubscribed, "single_opt_in", None),
                "email_marketing_consent_consent_updated_at": consent_at,
                "sms_marketing_consent_state": np.where(sms, "subscribed", "not_subscribed"),
                "sms_marketing_consent_opt_in_level": np.where(sms, "single_opt_in", None),
                "sms_marketing_consent_consent_updated_at": np.where(sms, sms_at[idx], NEVER),
                "_fivetran_deleted": deleted_at[idx] <= at,
            }

        records.state = customer_state
        out = {"customer": upsert_rows(records, window, 1)}

        # Tags are set when the account is created and do not change: a sync writes those of
        # the accounts created in its window.
        new_accounts = np.flatnonzero(window.contains(created))
        tag_lists = []
        for i in new_accounts:
            tags = []
            pp = person[i]
            if main[i] and newsletter_at[i] <= created[i] + HOUR:
                tags.append("newsletter")
            if p.has_slot[pp, 2] and main[i]:
                tags.append("app")
            if wholesale[pp]:
                tags.append("wholesale")
            if not main[i]:
                tags.append("guest")
            tag_lists.append(tags)
        n_tags = np.array([len(t) for t in tag_lists], dtype=np.int64)
        tag_rec = np.repeat(new_accounts, n_tags)
        tag_values = np.array([t for ts in tag_lists for t in ts], dtype=object)
        tag_index = np.concatenate([np.arange(k) for k in n_tags]) if len(n_tags) else np.zeros(0, dtype=np.int64)
        out["customer_tag"] = Rows({
            "customer_id": cid[tag_rec], "index": tag_index, "value": tag_values,
            "_fivetran_synced": window.synced_at(cid[tag_rec], tag_index),
        }, len(tag_rec), pid[person][tag_rec], None)

        out.update(self._orders(world, window, details))
        return out

    def _orders(self, world: ChunkWorld, window: Window, details: AccountDetails) -> dict[str, Rows]:
        cfg, p, o, ln, s = self.cfg, world.people, world.orders, world.lines, world.sessions
        products = ref.products()
        n = len(o.person)
        pid = p.person_id[o.person]
        oid = order_id(pid, o.number)
        u = lambda *k: hash_uniform(cfg.seed, oid, *k)  # noqa: E731
        acct = o.account
        # Checkout email: usually what the account holds; sometimes typed afresh.
        email = details.email[o.person, acct].copy()
        retyped = np.flatnonzero(u(1) < 0.15)
        draws = dirt.Draws(cfg.seed, (pid[retyped], T_ORDER, o.number[retyped]))
        email[retyped] = dirt.email(p.email[o.person[retyped]], draws)
        first, last = details.first[o.person, acct].copy(), details.last[o.person, acct].copy()
        first = np.where(first == None, p.first_name[o.person], first)  # noqa: E711
        last = np.where(last == None, p.last_name[o.person], last)  # noqa: E711
        phone = details.phone[o.person, acct]
        moved = o.created_at >= p.moved_at[o.person]
        bill = {k: np.where(moved, details.address[1][k][o.person], details.address[0][k][o.person])
                for k in details.address[0]}
        change_rec = np.concatenate([np.arange(n)] * 3)
        change_at = np.concatenate([o.fulfilled_at, o.refund_at, o.cancelled_at])
        records = Records(oid, pid, o.created_at, None, change_rec, change_at)
        # The orders this sync writes: what only their rows show is worked out for them alone.
        written = records.changed_in(window)
        # One order in twenty is a gift shipped to someone else.
        gift = u(2) < 0.05
        gift_first = np.where(gift, ref.names().first_female[(u(3) * 300).astype(np.int64)], first)
        gift_last = np.where(gift, ref.names().last[(u(4) * 900).astype(np.int64)], last)
        ship = {k: v.copy() for k, v in bill.items()}
        # The recipient's address is a function of the order alone (its own random stream),
        # so it is the same whichever sync lands the order.
        # Drawn one order at a time, dirtied in one call (the dirt hashes each row on its own).
        gifts = written[gift[written]]
        if len(gifts):
            drawn = [_addresses(np.random.default_rng([cfg.seed, T_GIFT, int(oid[i])]), 1) for i in gifts]
            g_addr = Address(*(np.concatenate([getattr(a, f.name) for a in drawn])
                               for f in dataclasses.fields(Address)))
            g_cols = dirt.address(g_addr, dirt.Draws(cfg.seed, (oid[gifts], T_GIFT)), dirt.AddressDirt(missing=0.0))
            for k in ship:
                ship[k][gifts] = g_cols[k]

        # Web context from the purchase session, when there was one.
        sess_of_order = np.full(n, -1, dtype=np.int64)
        purchase = np.flatnonzero(s.order >= 0)
        sess_of_order[s.order[purchase]] = purchase
        has_sess = sess_of_order >= 0
        so = np.maximum(sess_of_order, 0)
        slot = o.slot
        browser_ip = np.where(has_sess, device_ip(cfg, world, s.device_row[so], o.created_at), None)
        user_agent = np.where(has_sess & (slot < 2), device_user_agent(cfg, s.device_row[so], slot), None)
        source_name = np.where(~o.tracked & (u(5) < 0.4), "pos", np.where(slot == 2, "iphone", "web"))
        app_id = np.select([source_name == "pos", source_name == "iphone"], [POS_APP_ID, IOS_APP_ID], WEB_APP_ID)
        landing = np.where(has_sess, landing_page_url(s.channel[so], s.start[so]), None)
        referrer = np.where(has_sess, ref.CHANNEL_REFERRER[s.channel[so]], None)
        token = np.full(n, None, dtype=object)
        token[written] = [f"{a:016x}{b:016x}" for a, b in zip(hash64(cfg.seed, oid[written], 11),
                                                               hash64(cfg.seed, oid[written], 12))]
        customer = customer_id(pid, acct)
        news_at = p.newsletter_at[o.person]
        buyer_accepts = (news_at <= o.created_at) & (o.created_at < p.unsubscribe_at[o.person])
        total_discounts = o.discount
        line_items_price = o.subtotal
        number = 1000 + pid * 1000 + o.number


        def order_state(idx, at):
            cancelled = o.cancelled_at[idx] <= at
            refunded = o.refund_at[idx] <= at
            fulfilled = o.fulfilled_at[idx] <= at
            financial = np.select([cancelled, refunded & o.refund_full[idx], refunded],
                                  ["voided", "refunded", "partially_refunded"], "paid")
            b = {k: v[idx] for k, v in bill.items()}
            sh = {k: v[idx] for k, v in ship.items()}
            bname = np.array([" ".join(x for x in (f, l) if x) for f, l in zip(first[idx], last[idx])], dtype=object)
            sname = np.array([" ".join(x for x in (f, l) if x) for f, l in zip(gift_first[idx], gift_last[idx])], dtype=object)
            return {
                "id": oid[idx], "name": np.array([f"#{x}" for x in number[idx]], dtype=object),
                "number": number[idx] - 1000, "order_number": number[idx], "email": email[idx],
                "customer_id": customer[idx], "created_at": o.created_at[idx], "processed_at": o.created_at[idx],
                "updated_at": records.latest_change(idx, at), "currency": "USD", "presentment_currency": "USD",
                "financial_status": financial,
                "fulfillment_status": np.where(fulfilled, "fulfilled", None),
                "closed_at": np.where(fulfilled & ~cancelled, o.fulfilled_at[idx], NEVER),
                "cancelled_at": np.where(cancelled, o.cancelled_at[idx], NEVER),
                "cancel_reason": np.where(cancelled, "customer", None),
                "subtotal_price": np.round(o.subtotal[idx] - o.discount[idx], 2),
                "total_line_items_price": line_items_price[idx], "total_discounts": total_discounts[idx],
                "total_tax": o.tax[idx], "total_price": o.total[idx],
                "total_price_set": money_set(o.total[idx]), "total_tax_set": money_set(o.tax[idx]),
                "total_discounts_set": money_set(total_discounts[idx]),
                "total_line_items_price_set": money_set(line_items_price[idx]),
                "total_shipping_price_set": money_set(o.shipping[idx]),
                "total_tip_received": 0.0, "total_weight": 0, "taxes_included": False,
                "source_name": source_name[idx], "app_id": app_id[idx], "test": False, "confirmed": True,
                "buyer_accepts_marketing": buyer_accepts[idx], "browser_ip": browser_ip[idx],
                "client_details_user_agent": user_agent[idx], "landing_site_base_url": landing[idx],
                "referring_site": referrer[idx], "token": token[idx], "cart_token": token[idx],
                "checkout_token": token[idx], "checkout_id": oid[idx] + 20_000_000_000_000,
                "customer_locale": "en-US", "location_id": np.where(source_name[idx] == "pos", 68_000_000_001, None),
                "order_status_url": np.array([f"{ref.SITE}/orders/{t[:20]}/authenticate" for t in token[idx]], dtype=object),
                "billing_address_first_name": first[idx], "billing_address_last_name": last[idx],
                "billing_address_name": bname, "billing_address_address_1": b["street"],
                "billing_address_address_2": b["line2"], "billing_address_city": b["city"],
                "billing_address_province": b["region"], "billing_address_province_code": b["region"],
                "billing_address_zip": b["postcode"], "billing_address_country": b["country"],
                "billing_address_country_code": b["country_code"], "billing_address_phone": phone[idx],
                "billing_address_company": None,
                "shipping_address_first_name": gift_first[idx], "shipping_address_last_name": gift_last[idx],
                "shipping_address_name": sname, "shipping_address_address_1": sh["street"],
                "shipping_address_address_2": sh["line2"], "shipping_address_city": sh["city"],
                "shipping_address_province": sh["region"], "shipping_address_province_code": sh["region"],
                "shipping_address_zip": sh["postcode"], "shipping_address_country": sh["country"],
                "shipping_address_country_code": sh["country_code"],
                "shipping_address_phone": np.where(gift[idx], None, phone[idx]),
                "shipping_address_company": None,
                "_fivetran_deleted": False,
            }

        records.state = order_state
        out = {"order": upsert_rows(records, window, 2)}

        # Line items change when their order is fulfilled.
        m = len(ln.order)
        lpid = pid[ln.order]
        lid = 11_000_000_000_000 + (lpid * 1000 + o.number[ln.order]) * 10 + ln.index
        pkey = products.key[ln.product]
        titles = products.title[ln.product]
        vtitle = np.array([products.variants[pr][v] for pr, v in zip(ln.product, ln.variant)], dtype=object)
        line_discount = np.round(ln.price * ln.quantity * np.where(o.subtotal[ln.order] > 0, o.discount[ln.order] / np.maximum(o.subtotal[ln.order], 0.01), 0), 2)
        line_records = Records(lid, lpid, o.created_at[ln.order], None, np.arange(m), o.fulfilled_at[ln.order])

        def line_state(idx, at):
            fulfilled = o.fulfilled_at[ln.order[idx]] <= at
            q = ln.quantity[idx]
            gross = ln.price[idx] * q
            return {
                "id": lid[idx], "order_id": oid[ln.order[idx]], "index": ln.index[idx] + 1,
                "product_id": product_id(pkey[idx]), "variant_id": variant_id(pkey[idx], ln.variant[idx]),
                "title": titles[idx], "variant_title": vtitle[idx],
                "name": np.array([f"{t} - {v}" for t, v in zip(titles[idx], vtitle[idx])], dtype=object),
                "sku": np.array([sku(k, v) for k, v in zip(pkey[idx], ln.variant[idx])], dtype=object),
                "vendor": "Northwind Roasters", "quantity": q, "price": ln.price[idx],
                "price_set": money_set(ln.price[idx]), "pre_tax_price": np.round(gross - line_discount[idx], 2),
                "pre_tax_price_set": money_set(np.round(gross - line_discount[idx], 2)),
                "total_discount": line_discount[idx], "total_discount_set": money_set(line_discount[idx]),
                "fulfillable_quantity": np.where(fulfilled, 0, q),
                "fulfillment_status": np.where(fulfilled, "fulfilled", None),
                "gift_card": products.category[ln.product[idx]] == "Gift Cards",
                "requires_shipping": products.category[ln.product[idx]] != "Gift Cards",
                "taxable": True, "tax_code": None,
                "grams": np.where(products.category[ln.product[idx]] == "Coffee Beans", 340, 1200) * q,
                "variant_inventory_management": "shopify", "properties": "[]",
            }

        line_records.state = line_state
        out["order_line"] = upsert_rows(line_records, window, 3)

        # Refunds and the lines they cover.
        refunded = np.flatnonzero(o.refund_at < NEVER)
        new_ref = refunded[window.contains(o.refund_at[refunded])]
        rid = 900_000_000_000 + pid[new_ref] * 1000 + o.number[new_ref]
        out["refund"] = Rows({
            "id": rid, "order_id": oid[new_ref], "created_at": o.refund_at[new_ref],
            "processed_at": o.refund_at[new_ref], "restock": o.refund_full[new_ref],
            "note": np.where(o.refund_full[new_ref], "Customer returned the order", "Item damaged in transit"),
            "user_id": 82_000_000_001, "total_duties_set": money_set(np.zeros(len(new_ref))),
            "_fivetran_synced": window.synced_at(rid),
        }, len(new_ref), pid[new_ref], rid)
        lines_of = np.repeat(new_ref, o.line_count[new_ref])
        first_line = np.repeat(o.line_start[new_ref], o.line_count[new_ref])
        which = first_line + np.concatenate([np.arange(c) for c in o.line_count[new_ref]]) if len(new_ref) else np.zeros(0, dtype=np.int64)
        covered = o.refund_full[lines_of] | (ln.index[which] == 0)
        lines_of, which = lines_of[covered], which[covered]
        olr_id = 700_000_000_000 + (pid[lines_of] * 1000 + o.number[lines_of]) * 10 + ln.index[which]
        sub = np.round(ln.price[which] * ln.quantity[which], 2)
        out["order_line_refund"] = Rows({
            "id": olr_id, "refund_id": 900_000_000_000 + pid[lines_of] * 1000 + o.number[lines_of],
            "order_line_id": lid[which], "quantity": ln.quantity[which].astype(np.float64),
            "subtotal": sub, "subtotal_set": money_set(sub), "total_tax": np.round(sub * 0.0725, 2),
            "total_tax_set": money_set(np.round(sub * 0.0725, 2)),
            "restock_type": np.where(o.refund_full[lines_of], "return", "no_restock"), "location_id": None,
            "_fivetran_synced": window.synced_at(olr_id),
        }, len(olr_id), pid[lines_of], olr_id)
        return out
