-- Indentation rule off: the Jinja branches (incremental or full) each define the same CTEs,
-- which sqlfluff's indentation rule cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{{ cdp.fuzzy_pairs_delete_changed(ref('int_identity_fuzzy_block_keys')) }}",
        "{{ cdp.fuzzy_pairs_delete_flipped(ref('int_identity_fuzzy_block_keys'), ref('int_identity_fuzzy_blocks')) }}",
    ],
    post_hook="{{ cdp.fuzzy_pairs_keep_blocks(ref('int_identity_fuzzy_blocks')) }}",
) }}

{#
    The candidate pairs of fuzzy matching and how their records compare: one row per pair of
    records (node_a the one with the smaller record_key) that share a usable block
    (int_identity_fuzzy_blocks) and are in different base components, with the comparison
    level of each attribute. Pairs whose first names veto them (both known, and they cannot
    be one person: macro names_compatible) are left out. The match weights are
    int_identity_fuzzy_scores, over these rows.

    Incremental (macros/identity/fuzzy_pairs.sql): a build decides again only the pairs of
    records whose keys changed since its last build and the pairs in blocks whose status
    changed; the rest are kept. The result is the table a full rebuild makes
    (python_tests/test_identity.py compares them).
#}
{%- set incremental = cdp.fuzzy_pairs_is_incremental() -%}
{%- set build_at = cdp.build_started_at() %}

{#- Each import is read once: DuckDB materialises a CTE read twice, whole (6.5 million keys). -#}
{%- set keys = "select * from " ~ ref('int_identity_fuzzy_block_keys') ~ " where block_key is not null" -%}
{%- set records = "select * from " ~ ref('int_identity_fuzzy_records') ~ " where attributes_fingerprint is not null" -%}
{%- set blocks = "select * from " ~ ref('int_identity_fuzzy_blocks') %}

with

records_a as (

    {{ records }}

),

records_b as (

    {{ records }}

),

keys_a as (

    {{ keys }}

),

keys_b as (

    {{ keys }}

),

blocks as (

    {{ blocks }}

),

{% if incremental %}

{{ cdp.fuzzy_pairs_affected_ctes(ref('int_identity_fuzzy_block_keys'), ref('int_identity_fuzzy_blocks')) }},

-- Every big table is filtered by a semi-join on the few changed records (or flipped pairs)
-- before anything is joined: whatever order the planner joins in, no join of all keys with all
-- blocks (16 million rows at 1,000,000 people) can come first.
changed_keys as (

    select k.*
    from keys_a as k
    where k.node_id in (select c.node_id from changed_nodes as c)

),

touched_keys as (

    select k.*
    from keys_b as k
    where exists (
        select 1 from changed_keys as c
        where c.block_rule = k.block_rule and c.block_key = k.block_key
    )

),

touched_blocks as (

    select u.*
    from blocks as u
    where exists (
        select 1 from changed_keys as c
        where c.block_rule = u.block_rule and c.block_key = u.block_key
    )

),

flipped_keys_a as (

    select k.*
    from ({{ keys }}) as k
    where k.node_id in (select f.node_a from flipped_pairs as f)

),

flipped_keys_b as (

    select k.*
    from ({{ keys }}) as k
    where k.node_id in (select f.node_b from flipped_pairs as f)

),

flipped_blocks_usable as (

    {{ blocks }}

),

-- Pairs are carried by node id (an integer) and oriented by record key: the first node is
-- the record with the smaller key. Which two records a block pairs: macro fuzzy_block_pairs.
generated as (

    -- A changed record's pairs: its keys against every record's.
    select
        case when s.record_key < o.record_key then s.node_id else o.node_id end as node_a,
        case when s.record_key < o.record_key then o.node_id else s.node_id end as node_b
    from changed_keys as s
    inner join touched_blocks as u on s.block_rule = u.block_rule and s.block_key = u.block_key
    inner join touched_keys as o
        on s.block_rule = o.block_rule and s.block_key = o.block_key and s.node_id != o.node_id
    where {{ cdp.fuzzy_block_pairs('s', 'o', 'u') }}

    union all

    -- Unchanged records in a block whose status changed: still paired by a block they share?
    select
        f.node_a,
        f.node_b
    from flipped_pairs as f
    inner join flipped_keys_a as a on f.node_a = a.node_id
    inner join flipped_keys_b as b
        on f.node_b = b.node_id and a.block_rule = b.block_rule and a.block_key = b.block_key
    inner join flipped_blocks_usable as u on a.block_rule = u.block_rule and a.block_key = u.block_key
    where {{ cdp.fuzzy_block_pairs('a', 'b', 'u') }}

),

candidate_pairs as (

    select distinct
        node_a,
        node_b
    from generated

),

pair_records_a as (

    select r.*
    from records_a as r
    where r.node_id in (select c.node_a from candidate_pairs as c)

),

pair_records_b as (

    select r.*
    from records_b as r
    where r.node_id in (select c.node_b from candidate_pairs as c)

),

{% else %}

nameless_keys as (

    select * from {{ ref('int_identity_fuzzy_block_keys') }}
    where block_rule = 'email_name' and is_nameless

),

email_name_keys as (

    select * from {{ ref('int_identity_fuzzy_block_keys') }}
    where block_rule = 'email_name'

),

large_blocks as (

    select * from {{ ref('int_identity_fuzzy_blocks') }}
    where block_status = 'large'

),

-- The rule of macro fuzzy_block_pairs, in two parts for speed: the large email_name blocks
-- pair from their records without a name, never every two of their records.
generated as (

    select
        a.node_id as node_a,
        b.node_id as node_b
    from keys_a as a
    inner join blocks as u on a.block_rule = u.block_rule and a.block_key = u.block_key
    inner join keys_b as b
        on a.block_rule = b.block_rule and a.block_key = b.block_key and a.record_key < b.record_key
    -- (already one person by deterministic links: nothing to learn)
    where a.component != b.component and (a.block_rule != 'email_name' or u.block_status = 'small')

    union all

    -- A large email_name block pairs from the nameless side only: at 1,000,000 people that
    -- skips ~50 million pairs of two named John Smiths, which the name blocks pair if at all.
    select
        case when a.record_key < b.record_key then a.node_id else b.node_id end,
        case when a.record_key < b.record_key then b.node_id else a.node_id end
    from nameless_keys as a
    inner join large_blocks as u on a.block_rule = u.block_rule and a.block_key = u.block_key
    inner join email_name_keys as b
        on a.block_rule = b.block_rule and a.block_key = b.block_key and a.record_key != b.record_key
    where a.component != b.component

),

candidate_pairs as (

    select distinct
        node_a,
        node_b
    from generated

),

{% endif %}

pairs as (

    select
        p.node_a,
        p.node_b,
        a.record_key as record_a,
        b.record_key as record_b,
        -- Comparison levels (null: one side unknown, no evidence either way).
        a.first_name is not null and b.first_name is not null as both_named,
        case
            when a.first_name is null or b.first_name is null then null
            when a.canonical_first_name = b.canonical_first_name then 'exact'
            when {{ cdp.names_compatible('a.first_name', 'b.first_name',
                                         'a.canonical_first_name', 'b.canonical_first_name') }} then 'close'
            else 'veto'
        end as first_name_level,
        case
            when a.last_name is null or b.last_name is null then null
            when a.last_name = b.last_name then 'exact'
            when {{ cdp.jaro_winkler('a.last_name', 'b.last_name') }} >= 0.92 then 'close'
            else 'different'
        end as last_name_level,
        case
            when a.birth_date is null or b.birth_date is null then null
            when a.birth_date = b.birth_date then 'exact'
            when extract(year from a.birth_date) = extract(year from b.birth_date)
                and extract(month from a.birth_date) = extract(day from b.birth_date)
                and extract(day from a.birth_date) = extract(month from b.birth_date) then 'swapped'
            else 'different'
        end as birth_date_level,
        case
            when a.postcode is null or b.postcode is null then null
            when a.postcode = b.postcode then 'exact'
            else 'different'
        end as postcode_level,
        case
            when a.street is null or b.street is null then null
            when a.street = b.street then 'exact'
            when {{ cdp.jaro_winkler('a.street', 'b.street') }} >= 0.9 then 'close'
            else 'different'
        end as street_level,
        case
            when a.city is null or b.city is null then null
            when a.city = b.city then 'exact'
            else 'different'
        end as city_level,
        case
            when a.email_local is null or b.email_local is null then null
            when a.email_local = b.email_local then 'exact'
            -- A typo apart (one or two edits). Similarity would not do: addresses are built
            -- from names, so two people called Jennifer Smith have similar ones. (Lengths
            -- more than two apart cannot be: checked first, it spares most edit distances.)
            when length(a.email_local) >= 6
                and abs(length(a.email_local) - length(b.email_local)) <= 2
                and {{ cdp.edit_distance('a.email_local', 'b.email_local') }} <= 2 then 'close'
            else 'different'
        end as email_local_level,
        -- A record without a name, whose email spells the other record's name.
        case
            when a.first_name is not null and b.first_name is not null then null
            when coalesce(a.email_letters, '') in (b.name_forward, b.name_backward)
                or coalesce(b.email_letters, '') in (a.name_forward, a.name_backward)
                then 'full'
            when coalesce(a.email_letters, '') = b.name_initial or coalesce(b.email_letters, '') = a.name_initial
                then 'initial'
            when coalesce(a.email_letters, '') = b.first_letters or coalesce(b.email_letters, '') = a.first_letters
                then 'first'
        end as email_name_level,
        -- Deterministic links would have joined equal phones; two known, different ones
        -- are evidence against.
        case when a.phone != b.phone then 'different' end as phone_level,
        -- The values whose term frequency weighs an exact agreement (int_identity_fuzzy_scores),
        -- and the named side of a record without a name.
        a.canonical_first_name,
        a.last_name,
        a.postcode,
        a.street,
        a.city,
        case when a.first_name is null then b.canonical_first_name else a.canonical_first_name end as named_first_name,
        case when a.first_name is null then b.last_name else a.last_name end as named_last_name
    from candidate_pairs as p
    inner join {{ "pair_records_a" if incremental else "records_a" }} as a on p.node_a = a.node_id
    inner join {{ "pair_records_b" if incremental else "records_b" }} as b on p.node_b = b.node_id

),

final as (

    -- A first name that cannot be the same person's vetoes the pair.
    select
        *,
        {{ build_at }} as built_at
    from pairs
    where first_name_level is null or first_name_level != 'veto'

)

select * from final
