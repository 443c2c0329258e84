"""Zendesk Support: the agents, the customers who wrote in (one user per email address
they wrote from) and their tickets, whose status moves from new to closed."""

from __future__ import annotations

import numpy as np

from .. import dirt
from .. import reference as ref
from ..activity import ChunkWorld
from ..calendar import DAY
from ..config import NEVER, SimulationConfig, hash_uniform
from .base import Records, Rows, Window, upsert_rows
from .shopify import CATALOG_CREATED_DAYS_BEFORE, customer_id

T_USER = 21
N_AGENTS = 15
AGENT_BASE = 360_000_000_000
USER_BASE = 361_000_000_000
TICKET_BASE = 10_000_000
_ZENDESK_TZ = {"America/New_York": "Eastern Time (US & Canada)", "America/Toronto": "Eastern Time (US & Canada)",
               "America/Chicago": "Central Time (US & Canada)", "America/Denver": "Mountain Time (US & Canada)",
               "America/Phoenix": "Arizona", "America/Los_Angeles": "Pacific Time (US & Canada)",
               "America/Vancouver": "Pacific Time (US & Canada)", "Europe/London": "London",
               "Europe/Berlin": "Berlin", "Australia/Sydney": "Sydney", "Australia/Melbourne": "Melbourne"}
PRIORITY = {"shipping": "normal", "damaged": "high", "subscription": "normal", "refund": "normal",
            "product_question": "low", "warranty": "high", "account": "low", "cancellation": "normal"}
TYPE = {"shipping": "incident", "damaged": "incident", "subscription": "task", "refund": "task",
        "product_question": "question", "warranty": "problem", "account": "task", "cancellation": "task"}


def user_id(person_id: np.ndarray, account: np.ndarray) -> np.ndarray:
    return USER_BASE + person_id.astype(np.int64) * 2 + account


class Zendesk:
    source = "zendesk"

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg

    def global_rows(self, window: Window) -> dict[str, Rows]:
        created = self.cfg.start - CATALOG_CREATED_DAYS_BEFORE * DAY
        if not window.contains(np.array([created]))[0]:
            return {}
        names = ref.names()
        first = names.first_female[np.arange(N_AGENTS) * 7 % 300]
        last = names.last[np.arange(N_AGENTS) * 13 % 900]
        ids = AGENT_BASE + 1 + np.arange(N_AGENTS)
        return {"user": Rows({
            "id": ids, "name": np.array([f"{f} {l}" for f, l in zip(first, last)], dtype=object),
            "email": np.array([f"{f.lower()}.{l.lower()}@northwindroasters.com" for f, l in zip(first, last)], dtype=object),
            "role": "agent", "active": True, "verified": True, "suspended": False, "moderator": False,
            "restricted_agent": False, "shared": False, "shared_agent": False, "chat_only": False,
            "only_private_comments": False, "two_factor_auth_enabled": True, "ticket_restriction": None,
            "locale": "en-US", "locale_id": 1, "time_zone": "Pacific Time (US & Canada)",
            "created_at": np.full(N_AGENTS, created), "updated_at": np.full(N_AGENTS, created),
            "url": np.array([f"https://northwindroasters.zendesk.com/api/v2/users/{i}.json" for i in ids], dtype=object),
            "_fivetran_deleted": False, "_fivetran_synced": window.synced_at(ids),
        }, N_AGENTS)}

    def chunk_rows(self, world: ChunkWorld, window: Window) -> dict[str, Rows]:
        cfg, p, tk = self.cfg, world.people, world.tickets
        pid = p.person_id
        account = tk.alt_requester.astype(np.int64)
        # A requester (a person writing from one address) becomes a user at their first ticket.
        req_key = tk.person * 2 + account
        first_ticket = np.full(p.n * 2, NEVER, dtype=np.int64)
        np.minimum.at(first_ticket, req_key, tk.created_at)
        rec = np.flatnonzero(first_ticket < NEVER)
        person, acct = rec // 2, rec % 2
        uid = user_id(pid[person], acct)
        created = first_ticket[rec]
        draws = dirt.Draws(cfg.seed, (pid[person], T_USER, acct))
        base_email = np.where(acct == 1, p.email_alt[person], p.email[person])
        email = dirt.email(base_email, draws, dirt.EmailDirt(missing=0.01))
        first, last = dirt.names(p.first_name[person], p.last_name[person], p.nickname[person], draws)
        style = draws.u(dirt.F_FIRST, 8)
        full = np.array([" ".join(x for x in (f, l) if x) for f, l in zip(first, last)], dtype=object)
        local = np.array([(e or "customer").strip().split("@")[0] for e in email], dtype=object)
        name = np.where(style < 0.8, full, np.where(style < 0.9, first, local))
        name = np.where(name == None, local, name)  # noqa: E711
        phone = dirt.phone(p.phone[person], draws, dirt.PhoneDirt(present=0.2))
        tz = np.array([_ZENDESK_TZ[ref.timezone_of_city(c)] for c in p.address0.city[person]], dtype=object)
        external = np.where((draws.u(dirt.F_JUNK, 8) < 0.3) & (p.signup_at[person] < created),
                            customer_id(pid[person], 0).astype(str).astype(object), None)
        deleted_at = np.where(draws.u(dirt.F_MISSING, 9) < 0.003, created + 200 * DAY, NEVER)
        recs = Records(uid, pid[person], created, None, np.arange(len(rec)), deleted_at)

        def user_state(idx, at):
            deleted = deleted_at[idx] <= at
            return {
                "id": uid[idx], "email": email[idx], "name": name[idx], "phone": phone[idx],
                "role": "end-user", "active": ~deleted, "verified": True, "suspended": False,
                "moderator": False, "restricted_agent": False, "shared": False, "shared_agent": False,
                "chat_only": False, "only_private_comments": False, "two_factor_auth_enabled": False,
                "ticket_restriction": "requested", "external_id": external[idx], "alias": None,
                "locale": "en-US", "locale_id": 1, "time_zone": tz[idx], "organization_id": None,
                "created_at": created[idx], "updated_at": recs.latest_change(idx, at),
                "last_login_at": None,
                "url": np.array([f"https://northwindroasters.zendesk.com/api/v2/users/{i}.json" for i in uid[idx]], dtype=object),
                "_fivetran_deleted": deleted,
            }

        recs.state = user_state
        out = {"user": upsert_rows(recs, window, 5)}

        n = len(tk.person)
        tid = TICKET_BASE + pid[tk.person] * 100 + np.minimum(tk.number, 99)
        requester = user_id(pid[tk.person], account)
        reason = ref.TICKET_TYPES[tk.reason]
        agent = AGENT_BASE + 1 + (hash_uniform(cfg.seed, tid, 1) * N_AGENTS).astype(np.int64)
        deleted = hash_uniform(cfg.seed, tid, 2) < 0.002
        trecs = Records(tid, pid[tk.person], tk.created_at, None, np.tile(np.arange(n), 3),
                        np.r_[tk.opened_at, tk.solved_at, tk.closed_at])
        subject = ref.TICKET_SUBJECTS[tk.reason]

        def ticket_state(idx, at):
            status = np.select([tk.closed_at[idx] <= at, tk.solved_at[idx] <= at, tk.opened_at[idx] <= at],
                               ["closed", "solved", "open"], "new")
            status = np.where(deleted[idx], "deleted", status)
            return {
                "id": tid[idx], "subject": subject[idx],
                "description": np.array([f"{s_}. Order reference in my account, please help." for s_ in subject[idx]], dtype=object),
                "status": status, "priority": np.array([PRIORITY[r] for r in reason[idx]], dtype=object),
                "type": np.array([TYPE[r] for r in reason[idx]], dtype=object),
                "requester_id": requester[idx], "submitter_id": requester[idx],
                "assignee_id": np.where(tk.opened_at[idx] <= at, agent[idx], None),
                "group_id": 360_001_000_001, "brand_id": 360_002_000_001, "ticket_form_id": 360_003_000_001,
                "organization_id": None, "via_channel": tk.channel[idx],
                "recipient": np.where(tk.channel[idx] == "email", "support@northwindroasters.com", None),
                "created_at": tk.created_at[idx], "updated_at": trecs.latest_change(idx, at),
                "due_at": None, "is_public": True, "allow_channelback": False, "has_incidents": False,
                "merged_ticket_ids": "[]", "external_id": None, "problem_id": None, "forum_topic_id": None,
                "url": np.array([f"https://northwindroasters.zendesk.com/api/v2/tickets/{i}.json" for i in tid[idx]], dtype=object),
                "_fivetran_deleted": False,
            }

        trecs.state = ticket_state
        out["ticket"] = upsert_rows(trecs, window, 6)
        return out
