"""Salesforce (history mode): the sales team, corporate accounts, contacts at those
accounts, leads from forms and trade shows (some converted into contacts), and
corporate-gifting opportunities."""

from __future__ import annotations

import numpy as np

from .. import dirt
from .. import reference as ref
from ..activity import ChunkWorld
from ..calendar import DAY
from ..config import NEVER, SimulationConfig, hash_uniform
from ..ids import salesforce_id
from .base import Records, Rows, Window, history_rows

T_CONTACT, T_LEAD = 41, 42
N_REPS = 8
LEAD_SOURCES = np.array(["Web", "Trade Show", "Partner Referral", "Wholesale Inquiry", "Phone Inquiry"], dtype=object)
TITLES = np.array(["Office Manager", "Executive Assistant", "Operations Director", "HR Manager",
                   "Founder", "Procurement Lead", "Facilities Coordinator", "Chief of Staff"], dtype=object)
STAGES = ["Prospecting", "Qualification", "Proposal/Price Quote", "Closed Won", "Closed Lost"]
STAGE_P = {"Prospecting": 10.0, "Qualification": 20.0, "Proposal/Price Quote": 60.0, "Closed Won": 100.0, "Closed Lost": 0.0}
OWNER_BASE = 1


def rep_ids() -> np.ndarray:
    return np.array(salesforce_id(np.arange(OWNER_BASE, OWNER_BASE + N_REPS), "005").to_pylist(), dtype=object)


def account_ids() -> np.ndarray:
    return np.array(salesforce_id(np.arange(len(ref.COMPANY_WORDS)), "001").to_pylist(), dtype=object)


def _account_of(company: np.ndarray) -> np.ndarray:
    lookup = {w: i for i, w in enumerate(ref.COMPANY_WORDS)}
    return np.array([lookup.get(c, -1) if c is not None else -1 for c in company], dtype=np.int64)


class Salesforce:
    source = "salesforce"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg

    def global_rows(self, window: Window) -> dict[str, Rows]:
        cfg = self.cfg
        out = {}
        created = cfg.start - 500 * DAY
        reps = rep_ids()
        names = ref.names()
        first = names.first_male[np.arange(N_REPS) * 11 % 300]
        last = names.last[np.arange(N_REPS) * 17 % 900]
        urecs = Records(reps, None, np.full(N_REPS, created), None)
        urecs.state = lambda idx, at: {
            "id": reps[idx], "first_name": first[idx], "last_name": last[idx],
            "name": np.array([f"{f} {l}" for f, l in zip(first[idx], last[idx])], dtype=object),
            "email": np.array([f"{f.lower()}.{l.lower()}@northwindroasters.com" for f, l in zip(first[idx], last[idx])], dtype=object),
            "username": np.array([f"{f.lower()}.{l.lower()}@northwindroasters.com.crm" for f, l in zip(first[idx], last[idx])], dtype=object),
            "alias": np.array([(f[0] + l[:4]).lower() for f, l in zip(first[idx], last[idx])], dtype=object),
            "title": "Account Executive", "department": "Sales", "is_active": True, "user_type": "Standard",
            "company_name": "Northwind Roasters", "city": "Portland", "state": "OR", "country": "United States",
            "_fivetran_deleted": False,
        }
        rows = history_rows(urecs, window, 21)
        if rows.n:
            out["user"] = rows
        # Corporate customers: one account per company; a rating review each year.
        k = len(ref.COMPANY_WORDS)
        acc = account_ids()
        suffix = ref.COMPANY_SUFFIXES[np.arange(k) * 3 % len(ref.COMPANY_SUFFIXES)]
        hq = ref.cities()
        hq_city = (np.arange(k) * 5) % 50
        review = created + 365 * DAY * np.arange(1, 6)[None, :] + (np.arange(k)[:, None] * DAY)
        arecs = Records(acc, None, np.full(k, created), None, np.repeat(np.arange(k), 5), review.reshape(-1))

        def account_state(idx, at):
            years = np.maximum((at - created) // (365 * DAY), 0)
            rating = np.array(["Warm", "Hot", "Cold"], dtype=object)[(idx + years) % 3]
            return {
                "id": acc[idx], "name": np.array([f"{w} {s}" for w, s in zip(ref.COMPANY_WORDS[idx], suffix[idx])], dtype=object),
                "type": "Customer - Direct", "industry": ref.INDUSTRIES[idx % len(ref.INDUSTRIES)],
                "rating": rating, "account_source": "Trade Show", "owner_id": reps[idx % N_REPS],
                "number_of_employees": 20 + (idx * 137) % 4000, "annual_revenue": (1.0 + idx) * 2_500_000.0,
                "website": np.array([f"www.{w.lower().replace(' ', '')}.com" for w in ref.COMPANY_WORDS[idx]], dtype=object),
                "phone": np.array([f"(555) 01{i:02d}-{i * 37 % 10000:04d}" for i in idx], dtype=object),
                "billing_street": np.array([f"{100 + i * 7} Market Street" for i in idx], dtype=object),
                "billing_city": hq.city[hq_city[idx]], "billing_state": hq.region[hq_city[idx]],
                "billing_postal_code": hq.postcode_low[hq_city[idx]], "billing_country": "United States",
                "shipping_city": hq.city[hq_city[idx]], "shipping_state": hq.region[hq_city[idx]],
                "shipping_country": "United States", "shipping_country_code": "US",
                "created_date": np.full(len(idx), created), "is_deleted": False,
                "last_activity_date": at,
            }

        arecs.state = account_state
        rows = history_rows(arecs, window, 22)
        if rows.n:
            out["account"] = rows
        return out

    def chunk_rows(self, world: ChunkWorld, window: Window) -> dict[str, Rows]:
        cfg, p = self.cfg, world.people
        pid = p.person_id
        reps = rep_ids()
        acc = account_ids()
        account = _account_of(p.company)
        out = {}

        # Contacts (a few people were entered twice by different reps).
        has = np.flatnonzero(p.contact_at < NEVER)
        twice = has[hash_uniform(cfg.seed, pid[has], T_CONTACT, 1) < 0.03]
        person = np.r_[has, twice]
        copy = np.r_[np.zeros(len(has), dtype=np.int64), np.ones(len(twice), dtype=np.int64)]
        created = p.contact_at[person] + copy * ((10 + hash_uniform(cfg.seed, pid[person], 5) * 200) * DAY).astype(np.int64)
        cid = np.array(salesforce_id(pid[person] * 2 + copy, "003").to_pylist(), dtype=object)
        draws = dirt.Draws(cfg.seed, (pid[person], T_CONTACT, copy))
        first, last = dirt.names(p.first_name[person], p.last_name[person], p.nickname[person], draws,
                                 dirt.NameDirt(missing_first=0.01, missing_last=0.0))
        work = (draws.u(dirt.F_EMAIL, 11) < 0.65) & (p.email_alt[person] != None)  # noqa: E711
        email = dirt.email(np.where(work, p.email_alt[person], p.email[person]), draws, dirt.EmailDirt(missing=0.08))
        phone = dirt.phone(p.phone[person], draws, dirt.PhoneDirt(present=0.55))
        mobile = np.where(draws.u(dirt.F_PHONE, 12) < 0.3, p.phone[person], None)
        addr = [dirt.address(a.take(person), dirt.Draws(cfg.seed, (pid[person], T_CONTACT, copy, e)),
                             dirt.AddressDirt(missing=0.25, country_name=0.8)) for e, a in enumerate((p.address0, p.address1))]
        birth = dirt.birth_date(p.birth_date[person], draws, present=0.4)
        moved = p.moved_at[person]
        unsub = p.unsubscribe_at[person]
        # Duplicate contacts are often merged later: the loser is deleted and points at the
        # surviving record (master_record_id); now and then a contact is simply deleted.
        merged = (copy == 1) & (draws.u(dirt.F_MISSING, 13) < 0.4)
        deleted_at = np.where(merged, created + ((20 + draws.u(dirt.F_MISSING, 14) * 160) * DAY).astype(np.int64),
                              np.where(draws.u(dirt.F_MISSING, 12) < 0.01, created + 180 * DAY, NEVER))
        survivor = np.array(salesforce_id(pid[person] * 2, "003").to_pylist(), dtype=object)
        owner = reps[(pid[person] + copy) % N_REPS]
        acct_of = np.where(account[person] >= 0, acc[np.maximum(account[person], 0)], None)
        title = TITLES[(pid[person] * 7) % len(TITLES)]
        lead_src = LEAD_SOURCES[(pid[person] * 3) % len(LEAD_SOURCES)]
        n = len(person)
        crecs = Records(cid, pid[person], created, None, np.tile(np.arange(n), 3),
                        np.r_[np.where(moved > created, moved, NEVER), np.where(unsub > created, unsub, NEVER), deleted_at])

        def contact_state(idx, at):
            a = {k: np.where(at >= moved[idx], addr[1][k][idx], addr[0][k][idx]) for k in addr[0]}
            return {
                "id": cid[idx], "account_id": acct_of[idx], "first_name": first[idx], "last_name": last[idx],
                "name": dirt.full_name(first[idx], last[idx]), "salutation": np.where(p.female[person[idx]], "Ms.", "Mr."),
                "email": email[idx], "phone": phone[idx], "mobile_phone": mobile[idx], "home_phone": None,
                "mailing_street": a["street"], "mailing_city": a["city"], "mailing_state": a["region"],
                "mailing_state_code": a["region"], "mailing_postal_code": a["postcode"],
                "mailing_country": a["country"], "mailing_country_code": a["country_code"],
                "birthdate": birth[idx], "title": title[idx], "department": None, "lead_source": lead_src[idx],
                "owner_id": owner[idx], "created_by_id": owner[idx], "last_modified_by_id": owner[idx],
                "created_date": created[idx], "last_modified_date": at, "last_activity_date": at,
                "has_opted_out_of_email": unsub[idx] <= at, "do_not_call": False,
                "is_deleted": deleted_at[idx] <= at, "description": None, "individual_id": None,
                "master_record_id": np.where(merged[idx] & (deleted_at[idx] <= at), survivor[idx], None),
                "reports_to_id": None,
            }

        crecs.state = contact_state
        out["contact"] = history_rows(crecs, window, 23)

        # Leads: open, worked, then converted (into the person's contact) or closed.
        lp = np.flatnonzero(p.lead_at < NEVER)
        l_created = p.lead_at[lp]
        lid = np.array(salesforce_id(pid[lp], "00Q").to_pylist(), dtype=object)
        ldraws = dirt.Draws(cfg.seed, (pid[lp], T_LEAD))
        lfirst, llast = dirt.names(p.first_name[lp], p.last_name[lp], p.nickname[lp], ldraws,
                                   dirt.NameDirt(missing_first=0.03, missing_last=0.0))
        lwork = (ldraws.u(dirt.F_EMAIL, 11) < 0.5) & (p.email_alt[lp] != None)  # noqa: E711
        lemail = dirt.email(np.where(lwork, p.email_alt[lp], p.email[lp]), ldraws, dirt.EmailDirt(missing=0.04))
        lphone = dirt.phone(p.phone[lp], ldraws, dirt.PhoneDirt(present=0.6))
        laddr = dirt.address(p.address0.take(lp), ldraws, dirt.AddressDirt(missing=0.3))
        lbirth = dirt.birth_date(p.birth_date[lp], ldraws, present=0.15)
        contacted = l_created + 3 * DAY
        converted_at = np.where(p.contact_at[lp] < NEVER, np.maximum(p.contact_at[lp], contacted + 60), NEVER)
        closed_at = np.where((converted_at >= NEVER) & (ldraws.u(dirt.F_JUNK, 12) < 0.5), l_created + 75 * DAY, NEVER)
        l_deleted = np.where(ldraws.u(dirt.F_MISSING, 12) < 0.03, l_created + 120 * DAY, NEVER)
        conv_contact = np.array(salesforce_id(pid[lp] * 2, "003").to_pylist(), dtype=object)
        company = np.where(p.company[lp] != None, np.array([f"{c} {ref.COMPANY_SUFFIXES[i * 3 % 10]}" if c else None  # noqa: E711
                                                          for i, c in zip(np.maximum(account[lp], 0), p.company[lp])], dtype=object),
                           "[not provided]")
        m = len(lp)
        lrecs = Records(lid, pid[lp], l_created, None, np.tile(np.arange(m), 4),
                        np.r_[contacted, converted_at, closed_at, l_deleted])

        def lead_state(idx, at):
            conv = converted_at[idx] <= at
            closed = closed_at[idx] <= at
            status = np.select([conv, closed, contacted[idx] <= at],
                               ["Closed - Converted", "Closed - Not Converted", "Working - Contacted"], "Open - Not Contacted")
            return {
                "id": lid[idx], "first_name": lfirst[idx], "last_name": llast[idx],
                "name": dirt.full_name(lfirst[idx], llast[idx]), "salutation": None, "email": lemail[idx],
                "phone": lphone[idx], "mobile_phone": None, "company": company[idx], "title": TITLES[(idx * 5) % len(TITLES)],
                "street": laddr["street"][idx], "city": laddr["city"][idx], "state": laddr["region"][idx],
                "state_code": laddr["region"][idx], "postal_code": laddr["postcode"][idx],
                "country": laddr["country"][idx], "country_code": laddr["country_code"][idx],
                "status": status, "is_converted": conv, "converted_date": np.where(conv, converted_at[idx], NEVER),
                "converted_contact_id": np.where(conv, conv_contact[idx], None),
                "converted_account_id": np.where(conv & (account[lp[idx]] >= 0), acc[np.maximum(account[lp[idx]], 0)], None),
                "converted_opportunity_id": None, "lead_source": LEAD_SOURCES[(pid[lp[idx]] * 3) % len(LEAD_SOURCES)],
                "industry": ref.INDUSTRIES[np.maximum(account[lp[idx]], 0) % len(ref.INDUSTRIES)],
                "number_of_employees": None, "annual_revenue": None, "website": None,
                "birthdate_c": lbirth[idx], "has_opted_out_of_email": p.unsubscribe_at[lp[idx]] <= at,
                "do_not_call": False, "is_unread_by_owner": contacted[idx] > at,
                "owner_id": reps[pid[lp[idx]] % N_REPS], "created_by_id": reps[pid[lp[idx]] % N_REPS],
                "last_modified_by_id": reps[pid[lp[idx]] % N_REPS], "created_date": l_created[idx],
                "last_modified_date": at, "last_activity_date": at, "is_deleted": l_deleted[idx] <= at,
                "description": None, "individual_id": None, "master_record_id": None,
            }

        lrecs.state = lead_state
        out["lead"] = history_rows(lrecs, window, 24)

        # Opportunities: zero to two per (first-entered) contact at a company.
        base = np.flatnonzero((copy == 0) & (account[person] >= 0))
        n_opp = (hash_uniform(cfg.seed, pid[person[base]], 31) * 3).astype(np.int64)
        oc = np.repeat(base, n_opp)
        k = np.concatenate([np.arange(c) for c in n_opp]) if len(n_opp) else np.zeros(0, dtype=np.int64)
        opid = pid[person[oc]]
        o_created = created[oc] + ((5 + k * 120 + hash_uniform(cfg.seed, opid, k, 32) * 60) * DAY).astype(np.int64)
        won = hash_uniform(cfg.seed, opid, k, 33) < 0.6
        stage_at = o_created[:, None] + np.array([0, 7, 20, 40])[None, :] * DAY
        amount = np.round(500 + hash_uniform(cfg.seed, opid, k, 34) * 14_500, -1)
        oid = np.array(salesforce_id(opid * 4 + k, "006").to_pylist(), dtype=object)
        q = len(oc)
        orecs = Records(oid, opid, o_created, None, np.repeat(np.arange(q), 3), stage_at[:, 1:].reshape(-1))

        def opp_state(idx, at):
            step = (at[:, None] >= stage_at[idx]).sum(axis=1) - 1
            final = np.where(won[idx], "Closed Won", "Closed Lost")
            stage = np.where(step >= 3, final, np.array(STAGES[:3], dtype=object)[np.clip(step, 0, 2)])
            closed = step >= 3
            close_day = stage_at[idx, 3] // DAY
            acct_name = np.array([f"{ref.COMPANY_WORDS[a]}" for a in account[person[oc[idx]]]], dtype=object)
            return {
                "id": oid[idx], "account_id": acct_of[oc[idx]], "contact_id": cid[oc[idx]],
                "name": np.array([f"{a} - Corporate Gifting {j + 1}" for a, j in zip(acct_name, k[idx])], dtype=object),
                "stage_name": stage, "amount": amount[idx],
                "probability": np.array([STAGE_P[s] for s in stage]),
                "expected_revenue": amount[idx] * np.array([STAGE_P[s] for s in stage]) / 100.0,
                "close_date": close_day, "is_closed": closed, "is_won": closed & won[idx],
                "forecast_category": np.where(closed, np.where(won[idx], "Closed", "Omitted"), "Pipeline"),
                "forecast_category_name": np.where(closed, np.where(won[idx], "Closed", "Omitted"), "Pipeline"),
                "type": "New Business", "lead_source": "Existing Customer", "owner_id": owner[oc[idx]],
                "created_date": o_created[idx], "fiscal_year": 1970 + (close_day // 365.25).astype(np.int64),
                "fiscal_quarter": 1 + ((close_day % 365) // 92), "has_open_activity": ~closed,
                "has_opportunity_line_item": False, "has_overdue_task": False, "is_deleted": False,
                "last_activity_date": at, "next_step": np.where(closed, None, "Send proposal"),
            }

        orecs.state = opp_state
        out["opportunity"] = history_rows(orecs, window, 25)
        return out


__all__ = ["Salesforce"]
