"""Stripe Billing: subscribers' customer objects, subscriptions (history mode), items,
monthly invoices with their lines, and the charges that pay them (some declined)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import dirt
from .. import reference as ref
from ..activity import ChunkWorld
from ..calendar import DAY
from ..config import NEVER, SimulationConfig, hash64, hash_uniform
from ..ids import token_from_hash
from .base import Records, Rows, Window, history_rows, upsert_rows
from .shopify import CATALOG_CREATED_DAYS_BEFORE, customer_id

T_CUSTOMER = 31
(H_CUS, H_SUB, H_SI, H_INV, H_IL, H_CH, H_PRICE, H_PROD, H_TRIAL, H_CANCEL, H_DUP, H_META,
 H_DEL, H_PM, H_TXN) = range(600, 615)


def price_ids() -> pa.Array:
    return token_from_hash(hash64(np.arange(len(ref.SUBSCRIPTION_PLANS)), H_PRICE), 24, prefix="price_")


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return pc.take(arr, pa.array(idx))


class Stripe:
    source = "stripe"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg

    def global_rows(self, window: Window) -> dict[str, Rows]:
        created = self.cfg.start - CATALOG_CREATED_DAYS_BEFORE * DAY
        if not window.contains(np.array([created]))[0]:
            return {}
        plans = ref.SUBSCRIPTION_PLANS
        k = len(plans)
        prod_id = token_from_hash(hash64(np.array([0]), H_PROD), 14, prefix="prod_")
        return {
            "product": Rows({
                "id": prod_id, "name": "The Coffee Club", "active": True, "type": "service",
                "description": "Freshly roasted coffee delivered every month", "shippable": True,
                "created": np.array([created]), "updated": np.array([created]), "livemode": True,
                "is_deleted": False, "statement_descriptor": "NORTHWIND COFFEE CLUB",
                "_fivetran_synced": window.synced_at(np.array([1])),
            }, 1),
            "price": Rows({
                "id": price_ids(), "nickname": np.array([p[0] for p in plans], dtype=object),
                "unit_amount": np.array([p[1] for p in plans]),
                "unit_amount_decimal": np.array([str(p[1]) for p in plans], dtype=object),
                "currency": "usd", "active": True, "billing_scheme": "per_unit",
                "recurring_interval": "month", "recurring_interval_count": 1,
                "recurring_usage_type": "licensed", "product_id": pc.take(prod_id, pa.array(np.zeros(k, dtype=np.int64))),
                "created": np.full(k, created), "livemode": True, "is_deleted": False, "metadata": "{}",
                "_fivetran_synced": window.synced_at(np.arange(k), 2),
            }, k),
        }

    def chunk_rows(self, world: ChunkWorld, window: Window) -> dict[str, Rows]:
        cfg, p, inv = self.cfg, world.people, world.invoices
        pid = p.person_id
        subs = np.flatnonzero(p.subscription_start_at < NEVER)
        # A few subscribers left an abandoned customer object behind on a first attempt.
        dup = subs[hash_uniform(cfg.seed, pid[subs], H_DUP) < 0.03]
        person = np.r_[subs, dup]
        is_dup = np.r_[np.zeros(len(subs), dtype=bool), np.ones(len(dup), dtype=bool)]
        start = p.subscription_start_at[person]
        created = np.where(is_dup, np.maximum(start - DAY, p.first_seen_at[person] + 60), start - 60)
        ch = hash64(cfg.seed, pid[person], is_dup, H_CUS)
        cus_id = token_from_hash(ch, 14, prefix="cus_")
        draws = dirt.Draws(cfg.seed, (pid[person], T_CUSTOMER, is_dup.astype(np.int64)))
        email = dirt.email(p.email[person], draws, dirt.EmailDirt(missing=0.01, junk=0.004))
        first, last = dirt.names(p.first_name[person], p.last_name[person], p.nickname[person], draws,
                                 dirt.NameDirt(missing_first=0.03, missing_last=0.02))
        name = dirt.full_name(first, last)
        phone = dirt.phone(p.phone[person], draws, dirt.PhoneDirt(present=0.35))
        addr = [dirt.address(a.take(person), dirt.Draws(cfg.seed, (pid[person], T_CUSTOMER, e)), dirt.AddressDirt(missing=0.35))
                for e, a in enumerate((p.address0, p.address1))]
        moved = p.moved_at[person]
        linked = hash_uniform(cfg.seed, pid[person], H_META) < 0.5
        metadata = np.where(linked & ~is_dup & (p.signup_at[person] < created),
                            np.array([json.dumps({"shopify_customer_id": str(c)}) for c in customer_id(pid[person], 0)], dtype=object),
                            "{}")
        deleted_at = np.where(hash_uniform(cfg.seed, ch, H_DEL) < 0.003,
                              np.minimum(p.subscription_end_at[person], NEVER - 1) + 30 * DAY, NEVER)
        deleted_at = np.where(is_dup & (hash_uniform(cfg.seed, ch, H_DEL, 1) < 0.5), created + 2 * DAY, deleted_at)

        # Invoices: the first charge attempt sometimes fails; the retry three days later pays.
        inv_ix = np.arange(len(inv.person))
        pos_of_sub = np.full(p.n, -1, dtype=np.int64)
        pos_of_sub[subs] = np.arange(len(subs))
        inv_cus = pos_of_sub[inv.person]
        ih = hash64(cfg.seed, pid[inv.person], inv.period, H_INV)
        in_id = token_from_hash(ih, 24, prefix="in_")
        failed = inv.failed_first
        pay_charge = token_from_hash(hash64(ih, H_CH, 2), 24, prefix="ch_")
        fail_charge = token_from_hash(hash64(ih, H_CH, 1), 24, prefix="ch_")

        delinquent_from = inv.period_start[failed]
        delinquent_to = inv.paid_at[failed]
        cus_change_rec = np.r_[np.arange(len(person)), inv_cus[failed], inv_cus[failed], np.arange(len(person))]
        cus_change_at = np.r_[np.where(moved > created, moved, NEVER), delinquent_from, delinquent_to, deleted_at]
        crecs = Records(cus_id.to_numpy(zero_copy_only=False), pid[person], created, None, cus_change_rec, cus_change_at)
        fail_rec, fail_lo, fail_hi = inv_cus[failed], delinquent_from, delinquent_to

        def customer_state(idx, at):
            a = {k: np.where(at >= moved[idx], addr[1][k][idx], addr[0][k][idx]) for k in addr[0]}
            delinquent = np.zeros(len(idx), dtype=bool)
            if len(fail_rec):
                pos = {int(r): i for i, r in enumerate(idx)}
                for r, lo, hi in zip(fail_rec, fail_lo, fail_hi):
                    j = pos.get(int(r))
                    if j is not None and lo <= at[j] < hi:
                        delinquent[j] = True
            return {
                "id": _take(cus_id, idx), "email": email[idx], "name": name[idx], "phone": phone[idx],
                "description": None, "created": created[idx], "currency": "usd", "delinquent": delinquent,
                "balance": 0, "account_balance": 0, "livemode": True, "metadata": metadata[idx],
                "invoice_prefix": _take(token_from_hash(ch, 8), idx).cast(pa.string()),
                "default_card_id": _take(token_from_hash(hash64(ch, H_PM), 24, prefix="card_"), idx),
                "invoice_settings_default_payment_method": _take(token_from_hash(hash64(ch, H_PM), 24, prefix="pm_"), idx),
                "address_line_1": a["street"], "address_line_2": a["line2"], "address_city": a["city"],
                "address_state": a["region"], "address_postal_code": a["postcode"],
                "address_country": a["country_code"], "shipping_name": name[idx],
                "shipping_address_line_1": a["street"], "shipping_address_line_2": a["line2"],
                "shipping_address_city": a["city"], "shipping_address_state": a["region"],
                "shipping_address_postal_code": a["postcode"], "shipping_address_country": a["country_code"],
                "shipping_phone": phone[idx], "tax_exempt": "none", "is_deleted": deleted_at[idx] <= at,
            }

        crecs.state = customer_state
        out = {"customer": upsert_rows(crecs, window, 11)}

        # Subscriptions, one per real (non-duplicate) customer, in history mode.
        n_sub = len(subs)
        sh = hash64(cfg.seed, pid[subs], H_SUB)
        sub_id = token_from_hash(sh, 24, prefix="sub_")
        s_start = p.subscription_start_at[subs]
        s_end = p.subscription_end_at[subs]
        trial = hash_uniform(cfg.seed, sh, H_TRIAL) < 0.25
        trial_end = np.where(trial, s_start + 14 * DAY, NEVER)
        cancel_req = np.where(s_end < NEVER, s_end - ((1 + hash_uniform(cfg.seed, sh, H_CANCEL) * 24) * DAY).astype(np.int64), NEVER)
        cancel_req = np.maximum(cancel_req, s_start + 60)
        month = int(30.4375 * DAY)
        plan = p.plan[subs]
        srec = np.r_[np.arange(n_sub), np.arange(n_sub), np.arange(n_sub), inv_cus, inv_cus[failed], inv_cus[failed]]
        sat = np.r_[trial_end, cancel_req, s_end, inv.period_start, inv.period_start[failed] + 3600, inv.paid_at[failed]]
        keep = srec < n_sub
        srecs = Records(sub_id.to_numpy(zero_copy_only=False), pid[subs], s_start, None, srec[keep], sat[keep])

        def period_of(idx, at):
            """The billing period current at ``at``; a cancelled subscription stays in its last."""
            last = np.where(s_end[idx] < NEVER, (s_end[idx] - s_start[idx] + month - 1) // month - 1, NEVER)
            k = np.clip((at - s_start[idx]) // month, 0, np.maximum(last, 0))
            return s_start[idx] + k * month, s_start[idx] + (k + 1) * month, k

        def sub_state(idx, at):
            p_lo, p_hi, k = period_of(idx, at)
            ended = s_end[idx] <= at
            requested = cancel_req[idx] <= at
            in_trial = trial[idx] & (at < trial_end[idx])
            # Past due between a declined charge and its successful retry.
            past_due = np.zeros(len(idx), dtype=bool)
            f_rec, f_lo, f_hi = inv_cus[failed], inv.period_start[failed] + 3600, inv.paid_at[failed]
            if len(f_rec):
                order_ = np.argsort(f_rec, kind="stable")
                fr, fl, fh = f_rec[order_], f_lo[order_], f_hi[order_]
                lo_i = np.searchsorted(fr, idx, side="left")
                hi_i = np.searchsorted(fr, idx, side="right")
                for j in np.flatnonzero(hi_i > lo_i):
                    for q in range(lo_i[j], hi_i[j]):
                        if fl[q] <= at[j] < fh[q]:
                            past_due[j] = True
            status = np.select([ended, past_due, in_trial], ["canceled", "past_due", "trialing"], "active")
            # The newest invoice: this period's (period_of stops at a cancelled one's last).
            latest_inv = token_from_hash(hash64(cfg.seed, pid[subs[idx]], k, H_INV), 24, prefix="in_")
            return {
                "id": _take(sub_id, idx), "customer_id": _take(cus_id, idx), "status": status,
                "created": s_start[idx], "start_date": s_start[idx], "billing_cycle_anchor": s_start[idx],
                "current_period_start": np.where(ended, NEVER, p_lo), "current_period_end": np.where(ended, NEVER, p_hi),
                "trial_start": np.where(trial[idx], s_start[idx], NEVER), "trial_end": trial_end[idx],
                "cancel_at_period_end": requested & ~ended, "cancel_at": np.where(requested, s_end[idx], NEVER),
                "canceled_at": np.where(requested, cancel_req[idx], NEVER), "ended_at": np.where(ended, s_end[idx], NEVER),
                "billing": "charge_automatically", "days_until_due": None, "quantity": 1, "metadata": "{}",
                "livemode": True, "latest_invoice_id": latest_inv,
                "default_payment_method_id": _take(token_from_hash(hash64(ch[:n_sub], H_PM), 24, prefix="pm_"), idx),
                "tax_percent": None, "application_fee_percent": None,
            }

        srecs.state = sub_state
        out["subscription_history"] = history_rows(srecs, window, 12)

        si_id = token_from_hash(hash64(sh, H_SI), 14, prefix="si_")
        irecs = Records(si_id.to_numpy(zero_copy_only=False), pid[subs], s_start, None, inv_cus, inv.period_start)

        def item_state(idx, at):
            p_lo, p_hi, _ = period_of(idx, at)
            return {"id": _take(si_id, idx), "subscription_id": _take(sub_id, idx),
                    "plan_id": pc.take(price_ids(), pa.array(plan[idx])), "quantity": 1,
                    "created": s_start[idx], "current_period_start": p_lo, "current_period_end": p_hi,
                    "metadata": "{}"}

        irecs.state = item_state
        out["subscription_item"] = upsert_rows(irecs, window, 13)

        customer_prefix = token_from_hash(ch, 8)

        def number(idx):
            """Invoice numbers (the customer's prefix and the invoice's count) of the invoices a sync writes."""
            prefix = _take(customer_prefix, np.maximum(inv_cus[idx], 0)).to_numpy(zero_copy_only=False)
            return np.array([f"{a}-{k + 1:04d}" for a, k in zip(prefix, inv.period[idx])], dtype=object)

        nrecs = Records(in_id.to_numpy(zero_copy_only=False), pid[inv.person], inv.period_start, None, inv_ix, inv.paid_at)

        def invoice_state(idx, at):
            paid = inv.paid_at[idx] <= at
            retried = failed[idx] & paid
            return {
                "id": _take(in_id, idx), "customer_id": _take(cus_id, inv_cus[idx]),
                "subscription_id": _take(sub_id, inv_cus[idx]), "number": number(idx),
                "created": inv.period_start[idx], "date": inv.period_start[idx],
                "period_start": inv.period_start[idx], "period_end": inv.period_end[idx],
                "finalized_at": inv.period_start[idx], "status_transitions_finalized_at": inv.period_start[idx],
                "status": np.where(paid, "paid", "open"), "paid": paid, "attempted": True,
                "attempt_count": np.where(retried, 2, 1), "amount_due": inv.amount[idx],
                "amount_paid": np.where(paid, inv.amount[idx], 0), "amount_remaining": np.where(paid, 0, inv.amount[idx]),
                "subtotal": inv.amount[idx], "total": inv.amount[idx], "tax": 0, "currency": "usd",
                "billing_reason": np.where(inv.period[idx] == 0, "subscription_create", "subscription_cycle"),
                "billing": "charge_automatically",
                # The charge that paid it, or the declined attempt while it waits for the retry.
                "charge_id": pc.if_else(pa.array(paid), _take(pay_charge, idx),
                                        pc.if_else(pa.array(failed[idx]), _take(fail_charge, idx),
                                                   pa.nulls(len(idx), pa.string()))),
                "next_payment_attempt": np.where(~paid & failed[idx], inv.paid_at[idx], NEVER),
                "status_transitions_paid_at": np.where(paid, inv.paid_at[idx], NEVER),
                "hosted_invoice_url": None, "invoice_pdf": None, "livemode": True, "is_deleted": False,
                "auto_advance": ~paid, "starting_balance": 0, "ending_balance": 0, "metadata": "{}",
            }

        nrecs.state = invoice_state
        out["invoice"] = upsert_rows(nrecs, window, 14)

        new_inv = inv_ix[window.contains(inv.period_start)]
        il_id = token_from_hash(hash64(ih[new_inv], H_IL), 24, prefix="il_")
        plan_of = plan[inv_cus[new_inv]]
        plan_names = np.array([f"1 \u00d7 {pl[0]} (at ${pl[1] / 100:.2f} / month)" for pl in ref.SUBSCRIPTION_PLANS], dtype=object)
        out["invoice_line_item"] = Rows({
            "id": il_id, "invoice_id": _take(in_id, new_inv), "amount": inv.amount[new_inv], "currency": "usd",
            "description": plan_names[plan_of], "discountable": True, "livemode": True, "metadata": "{}",
            "period_start": inv.period_start[new_inv], "period_end": inv.period_end[new_inv],
            "plan_id": pc.take(price_ids(), pa.array(plan_of)), "price_id": pc.take(price_ids(), pa.array(plan_of)),
            "proration": False, "quantity": 1, "subscription_id": _take(sub_id, inv_cus[new_inv]),
            "subscription_item_id": _take(si_id, inv_cus[new_inv]), "type": "subscription",
            "unique_id": il_id, "_fivetran_synced": window.synced_at(ih[new_inv].astype(np.int64)),
        }, len(new_inv), pid[inv.person[new_inv]], None)

        # Charges: a declined attempt at the period start, and the payment.
        att_inv = np.r_[inv_ix[failed], inv_ix]
        att_at = np.r_[inv.period_start[failed], inv.paid_at]
        att_ok = np.r_[np.zeros(failed.sum(), dtype=bool), np.ones(len(inv_ix), dtype=bool)]
        new = window.contains(att_at)
        att_inv, att_at, att_ok = att_inv[new], att_at[new], att_ok[new]
        c_ids = pc.if_else(pa.array(att_ok), _take(pay_charge, att_inv), _take(fail_charge, att_inv))
        cus = inv_cus[att_inv]
        fail_msg = {"card_declined": "Your card was declined.", "insufficient_funds": "Your card has insufficient funds.",
                    "expired_card": "Your card has expired."}
        code = np.where(att_ok, None, inv.failure_code[att_inv])
        cur_addr = {k: np.where(att_at >= moved[cus], addr[1][k][cus], addr[0][k][cus]) for k in addr[0]}
        out["charge"] = Rows({
            "id": c_ids, "amount": inv.amount[att_inv], "amount_refunded": 0, "captured": att_ok,
            "created": att_at, "currency": "usd", "customer_id": _take(cus_id, cus),
            "invoice_id": _take(in_id, att_inv), "paid": att_ok, "refunded": False, "livemode": True,
            "status": np.where(att_ok, "succeeded", "failed"), "failure_code": code,
            "failure_message": np.array([fail_msg.get(c) if c else None for c in code], dtype=object),
            "outcome_network_status": np.where(att_ok, "approved_by_network", "declined_by_network"),
            "outcome_type": np.where(att_ok, "authorized", "issuer_declined"),
            "outcome_risk_level": "normal",
            "outcome_risk_score": (hash_uniform(cfg.seed, ih[att_inv], 5) * 60).astype(np.int64),
            "outcome_seller_message": np.where(att_ok, "Payment complete.", "The bank did not return any further details with this decline."),
            "description": "Subscription update", "statement_descriptor": "NORTHWIND COFFEE CLUB",
            "calculated_statement_descriptor": "NORTHWIND COFFEE CLUB",
            "payment_method_id": _take(token_from_hash(hash64(ch, H_PM), 24, prefix="pm_"), cus),
            "card_id": _take(token_from_hash(hash64(ch, H_PM), 24, prefix="card_"), cus),
            "balance_transaction_id": pc.if_else(pa.array(att_ok), token_from_hash(hash64(ih[att_inv], H_TXN), 24, prefix="txn_"),
                                                 pa.nulls(len(att_inv), pa.string())),
            "receipt_email": email[cus], "billing_detail_email": email[cus], "billing_detail_name": name[cus],
            "billing_detail_phone": phone[cus], "billing_detail_address_line1": cur_addr["street"],
            "billing_detail_address_line2": cur_addr["line2"], "billing_detail_address_city": cur_addr["city"],
            "billing_detail_address_state": cur_addr["region"], "billing_detail_address_postal_code": cur_addr["postcode"],
            "billing_detail_address_country": cur_addr["country_code"], "metadata": "{}",
            "_fivetran_synced": window.synced_at(ih[att_inv].astype(np.int64), att_ok),
        }, len(att_inv), pid[inv.person[att_inv]], None)
        return out
