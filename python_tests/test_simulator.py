"""The synthetic sources: deterministic, shaped like Fivetran and Segment, telling the story
a CDP exists for, and complete in their ground truth."""

from __future__ import annotations

import collections
import resource

import numpy as np
import pyarrow as pa
import pytest

from orchestration.lib.raw_tables import raw_tables
from orchestration.simulator.calendar import DAY
from orchestration.simulator.config import CHUNK_SIZE, SimulationConfig
from orchestration.simulator.connectors.base import Window
from orchestration.simulator.generate import CONNECTORS, generate_window
from orchestration.simulator.population import chunk_specs

from .conftest import AS_OF


def _collect(cfg: SimulationConfig, window: Window, connectors=CONNECTORS) -> dict[tuple[str, str], pa.Table]:
    parts = collections.defaultdict(list)
    generate_window(cfg, window, lambda s, t, tbl: parts[(s, t)].append(tbl), connectors)
    return {k: pa.concat_tables(v) for k, v in parts.items()}


def test_same_seed_same_data_and_another_seed_other_data():
    cfg = SimulationConfig.create(11, 600, "2026-03-01")
    window = Window(-1, cfg.as_of, cfg.seed)
    first, second = _collect(cfg, window), _collect(cfg, window)
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].equals(second[key]), key
    other = SimulationConfig.create(12, 600, "2026-03-01")
    third = _collect(other, Window(-1, other.as_of, other.seed), ["shopify"])
    assert not third[("shopify", "customer")].equals(first[("shopify", "customer")])


def _sorted(table: pa.Table, source: str, name: str) -> pa.Table:
    keys = list(raw_tables()[source][name].primary_key) if source != "_truth" else table.column_names
    return table.sort_by([(k, "ascending") for k in keys])


def test_a_window_does_not_depend_on_how_far_the_world_was_generated():
    """The rows a sync delivers for (lo, hi] are the same whether the world was generated up
    to hi or far beyond it (here across seven 30-day epochs): increments are windows of one
    world."""
    cfg = SimulationConfig.create(3, 700, "2026-03-01")
    window = Window(-1, cfg.as_of, cfg.seed)
    short = _collect(cfg, window)
    parts = collections.defaultdict(list)
    generate_window(cfg, window, lambda s, t, tbl: parts[(s, t)].append(tbl), horizon=cfg.as_of + 200 * DAY)
    long = {k: pa.concat_tables(v) for k, v in parts.items()}
    assert short.keys() == long.keys()
    for (source, name), table in short.items():
        assert _sorted(table, source, name).equals(_sorted(long[(source, name)], source, name)), (source, name)


def test_every_table_matches_its_source_yaml():
    cfg = SimulationConfig.create(5, 400, "2026-03-01")
    tables = _collect(cfg, Window(-1, cfg.as_of, cfg.seed))
    specs = raw_tables()
    for source in CONNECTORS:
        for name, spec in specs[source].items():
            assert (source, name) in tables, f"{source}.{name} is never generated"
            assert tables[(source, name)].schema == spec.arrow_schema, f"{source}.{name}"


def test_chunks_cover_every_person_once_and_bound_memory():
    """People are generated chunk by chunk: the design that lets 1,000,000 people fit."""
    cfg = SimulationConfig.create(1, int(2.5 * CHUNK_SIZE), "2026-03-01")
    specs = [s for s in chunk_specs(cfg, cfg.as_of) if s.kind == 0]
    ids = np.concatenate([np.arange(s.first_person_id, s.first_person_id + s.size) for s in specs])
    assert len(specs) == 3 and max(s.size for s in specs) <= CHUNK_SIZE
    assert np.array_equal(ids, np.arange(1, cfg.profiles + 1))


@pytest.mark.slow
def test_scale_rows_grow_linearly_and_memory_stays_flat():
    """Three chunks of people cost three times the rows of one, without three times the memory."""
    rows = {}
    peak = {}
    for n in (CHUNK_SIZE, 3 * CHUNK_SIZE):
        cfg = SimulationConfig.create(21, n, "2026-03-01")
        counts = collections.Counter()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        generate_window(cfg, Window(-1, cfg.as_of, cfg.seed),
                        lambda s, t, tbl, counts=counts: counts.update({s: tbl.num_rows}))
        peak[n] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        rows[n] = sum(v for k, v in counts.items() if not k.startswith("_"))
    ratio = rows[3 * CHUNK_SIZE] / rows[CHUNK_SIZE]
    assert 2.7 < ratio < 3.3, ratio
    # Max RSS grows (if at all) by far less than the data: one chunk is in memory at a time.
    assert peak[3 * CHUNK_SIZE] < 400_000, peak  # KiB


PERSON_TABLES = [("shopify", "customer"), ("klaviyo", "person"), ("stripe", "customer"), ("zendesk", "user"),
                 ("salesforce", "contact"), ("salesforce", "lead")]


def test_duplicate_records_across_and_within_sources(sql):
    """About 30% of person records duplicate another record of the same person."""
    rows = sql(f"""
        select count(*), count(distinct person_id)
        from (select distinct source, table_name, record_id, person_id from _truth.record_persons
              where (source, table_name) in ({", ".join(f"('{s}', '{t}')" for s, t in PERSON_TABLES)}))""")
    records, people = rows[0]
    share = 1 - people / records
    assert 0.25 <= share <= 0.40, share
    within = sql("""select count(*) from (select source, table_name, person_id from _truth.record_persons
                    where (source, table_name) in (('shopify', 'customer'), ('zendesk', 'user'), ('stripe', 'customer'))
                    group by all having count(distinct record_id) > 1)""")[0][0]
    assert within > 20, "people with two records in one system"


def test_records_carry_real_dirt(sql):
    emails = [r[0] for r in sql("select email from shopify.customer where email is not null")]
    assert any(e != e.strip() for e in emails), "whitespace around emails"
    assert any(e != e.lower() for e in emails), "mixed-case emails"
    assert sql("select count(*) from shopify.customer where email in ('test@test.com', 'none', 'n/a', "
               "'noemail@noemail.com', 'x@x.com', 'na@na.com', 'no@email.com', 'asdf@asdf.com')")[0][0] > 0
    assert sql("select count(*) from stripe.customer where phone in ('0000000000', '1234567890', '+1', "
               "'5555555555', 'n/a', '000-000-0000', '9999999999')")[0][0] + \
        sql("select count(*) from shopify.customer where phone in ('0000000000', '1234567890', '+1', "
            "'5555555555', 'n/a', '000-000-0000', '9999999999')")[0][0] > 0
    formats = {tuple(ch.isdigit() for ch in p) for (p,) in sql("select phone from shopify.customer where phone like '%5%'")}
    assert len(formats) > 5, "several phone formats"
    # Nicknames and typos: a customer's first name differs from the person's true one.
    differs = sql("""select count(*) from shopify.customer c
                     join _truth.record_persons r on r.source = 'shopify' and r.table_name = 'customer'
                                                  and r.record_id = cast(c.id as varchar)
                     join _truth.persons p using (person_id)
                     where lower(c.first_name) != lower(p.first_name)""")[0][0]
    assert differs > 20
    # Family members share an address and sometimes an email.
    assert sql("select count(*) from _truth.persons where shares_partner_email")[0][0] > 0
    # Moved people: some Shopify orders carry the old city, later ones the new.
    assert sql("select count(*) from _truth.persons where moved_at is not null")[0][0] > 0


# Tables that are not about a person: catalogues, campaigns, the company's own staff.
NOT_ABOUT_A_PERSON = {("shopify", "product"), ("shopify", "product_variant"), ("stripe", "price"),
                      ("stripe", "product"), ("klaviyo", "metric"), ("klaviyo", "campaign"), ("klaviyo", "flow"),
                      ("salesforce", "account"), ("salesforce", "user")}


def test_truth_covers_every_record_and_event(sql):
    from orchestration.simulator.generate import NO_TRUTH

    checked = 0
    for source, tables in raw_tables().items():
        for name, spec in tables.items():
            if (source, name) in NOT_ABOUT_A_PERSON:
                continue
            where = "where role = 'end-user'" if (source, name) == ("zendesk", "user") else ""
            if "id" in spec.column_names:
                key = "cast(id as varchar)"
            else:
                key = " || '|' || ".join(f'cast("{k}" as varchar)' for k in spec.primary_key)
            truth_table = "tracks" if (source, name) in NO_TRUTH else name  # per-event tables share ids with tracks
            missing = sql(f"""
                select count(*) from (select distinct {key} as id from {spec.qualified} {where}) r
                where not exists (select 1 from _truth.record_persons t where t.source = '{source}'
                                  and t.table_name = '{truth_table}' and t.record_id = r.id)""")[0][0]
            assert missing == 0, f"{source}.{name}: {missing} rows without a true person"
            checked += 1
    assert checked >= 29
    # Every anonymous id the website or app sent belongs to someone.
    orphans = sql("""select count(*) from (select distinct anonymous_id from segment.tracks
                     union select distinct anonymous_id from segment.pages) a
                     where not exists (select 1 from _truth.devices d where d.anonymous_id = a.anonymous_id)""")[0][0]
    assert orphans == 0
    # Every person who appears anywhere is in _truth.persons.
    assert sql("""select count(*) from (select distinct person_id from _truth.record_persons) r
                  where not exists (select 1 from _truth.persons p where p.person_id = r.person_id)""")[0][0] == 0


def test_shared_devices_pass_from_one_person_to_another(sql):
    shared = sql("""select anonymous_id, count(distinct person_id), min(valid_to), max(valid_from)
                    from _truth.devices group by 1 having count(distinct person_id) > 1""")
    assert shared, "some phones change hands"
    # The previous owner stops using the device before the next one logs in on it.
    assert all(prev_to <= next_from for _, _, prev_to, next_from in shared)


def test_personas_behave_as_their_names_say(sql):
    as_of = f"timestamp '{AS_OF}'"
    per_persona = dict(sql(f"""
        select p.persona, avg(coalesce(o.spend, 0))
        from _truth.persons p
        left join (select r.person_id, sum(o.total_price) as spend
                   from shopify."order" o join _truth.record_persons r
                     on r.source = 'shopify' and r.table_name = 'order' and r.record_id = cast(o.id as varchar)
                   where o.created_at <= {as_of} group by 1) o using (person_id)
        where p.first_seen_at <= {as_of} group by 1"""))
    assert per_persona["vip_subscriber"] > 1000
    assert per_persona["vip_subscriber"] > per_persona["regular_subscriber"] > per_persona["one_time_buyer"]
    assert per_persona["prospect"] == 0 and per_persona["anonymous_visitor"] == 0
    # At-risk subscribers: still subscribed, no order in the 60 days before as-of, tickets rising.
    recent = sql(f"""
        select count(*) from shopify."order" o join _truth.record_persons r
          on r.source = 'shopify' and r.table_name = 'order' and r.record_id = cast(o.id as varchar)
        join _truth.persons p using (person_id)
        where p.persona = 'at_risk_subscriber' and o.created_at between {as_of} - interval 60 day and {as_of}""")[0][0]
    assert recent == 0
    tickets = dict(sql(f"""
        select t.created_at > {as_of} - interval 75 day, count(*) * 1.0 / count(distinct r.person_id)
        from zendesk.ticket t join _truth.record_persons r
          on r.source = 'zendesk' and r.table_name = 'ticket' and r.record_id = cast(t.id as varchar)
        join _truth.persons p using (person_id)
        where p.persona = 'at_risk_subscriber' and t.created_at <= {as_of} group by 1"""))
    assert tickets.get(True, 0) > 0
    # Churned high-value customers: their subscriptions ended before as-of.
    churned = sql(f"""select count(*), count(*) filter (where subscription_end_at < {as_of})
                      from _truth.persons where persona = 'churned_high_value' and first_seen_at <= {as_of}""")[0]
    assert churned[0] > 0 and churned[0] == churned[1]
    assert sql("select count(*) from stripe.subscription_history where status = 'canceled'")[0][0] > 0


def test_seasonality_black_friday_and_summer(sql):
    by_day = dict(sql("select cast(created_at as date), count(*) from shopify.\"order\" group by 1"))
    days = sorted(by_day)
    # Black Friday 2025 was 28 November: its week out-sells the average day.
    import datetime as dt
    bf_week = [by_day.get(dt.date(2025, 11, 28) + dt.timedelta(days=i), 0) for i in range(4)]
    mean = sum(by_day.values()) / len(days)
    assert sum(bf_week) / 4 > 1.6 * mean
    summer = [v for d, v in by_day.items() if d.year == 2025 and d.month in (7, 8)]
    spring = [v for d, v in by_day.items() if d.year == 2025 and d.month in (4, 5)]
    assert sum(summer) / len(summer) < sum(spring) / len(spring)
