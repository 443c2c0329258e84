{{ config(
    materialized='incremental',
    unique_key='merge_event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook="{{ cdp.privacy_delete_forgotten({'survivor_profile_id': 'profile_id', 'absorbed_profile_id': 'profile_id', 'split_profile_id': 'profile_id', 'example_record_key': 'record_key'}) }}",
) }}

{#
    The ledger of profile merges and splits, appended build after build. It reads the
    changes int_identity_profile_history recorded (records that left one profile for
    another) and names, for each pair of profiles involved, what happened:

    - merge:    the records of a profile that no longer exists joined a profile that
                existed before (the survivor); absorbed_profile_id is the one that ended.
    - split:    records left a profile that still exists (the survivor) for a new profile
                (split_profile_id).
    - transfer: records left a profile that still exists for another existing profile.
    - renamed:  a profile lost its anchor record and all its records took a new id.

    The cause is the link that explains the change: for a merge, the accepted link
    (int_identity_edges) between a moved record and the survivor's other records, the
    latest one first; for a split or transfer, the link between the two parts that
    identity resolution refused in this build (identity_conflicts: a limit or cannot-link
    rule) or, when none was refused, 'link removed' (the evidence that joined them is gone).
#}
with

history as (

    select * from {{ ref('int_identity_profile_history') }}

),

edges as (

    select * from {{ ref('int_identity_edges') }}

),

refused as (

    select
        d.edge_id,
        d.broken_rule
    from {{ ref('int_identity_limit_decisions') }} as d
    where not d.is_accepted

),

-- A record moved when a row closed and another opened for it at the same build.
moves as (

    select
        o.valid_from as built_at,
        o.opened_by_invocation_id as invocation_id,
        o.record_key,
        c.profile_id as from_profile_id,
        o.profile_id as to_profile_id
    from history as o
    inner join history as c
        on
            o.record_key = c.record_key
            and o.valid_from = c.valid_to
    where
        o.profile_id != c.profile_id
    {% if is_incremental() %}
            and o.valid_from > {{ cdp.watermark('built_at') }}
        {% endif %}

),

pairs as (

    select
        m.built_at,
        m.invocation_id,
        m.from_profile_id,
        m.to_profile_id,
        count(*) as records_moved,
        min(m.record_key) as example_record_key
    from moves as m
    group by m.built_at, m.invocation_id, m.from_profile_id, m.to_profile_id

),

-- For each build and profile involved: did it hold records right after the build, and before?
involved as (

    select
        built_at,
        from_profile_id as profile_id
    from pairs
    union
    select
        built_at,
        to_profile_id
    from pairs

),

profile_state as (

    select
        i.built_at,
        i.profile_id,
        max(case when h.valid_from <= i.built_at and (h.valid_to is null or h.valid_to > i.built_at) then 1 else 0 end)
            as is_open_after,
        max(case when h.valid_from < i.built_at then 1 else 0 end) as existed_before
    from involved as i
    inner join history as h on i.profile_id = h.profile_id
    group by i.built_at, i.profile_id

),

classified as (

    select
        p.*,
        case
            when f.is_open_after = 0 and t.existed_before = 1 then 'merge'
            when f.is_open_after = 0 then 'renamed'
            when t.existed_before = 1 then 'transfer'
            else 'split'
        end as event_type
    from pairs as p
    inner join profile_state as f on p.built_at = f.built_at and p.from_profile_id = f.profile_id
    inner join profile_state as t on p.built_at = t.built_at and p.to_profile_id = t.profile_id

),

-- Which profile each record held just before the build (the moved ones: their old one).
before_build as (

    select
        p.built_at,
        h.record_key,
        h.profile_id
    from (select distinct built_at from pairs) as p
    inner join history as h
        on
            p.built_at > h.valid_from
            and (h.valid_to is null or p.built_at <= h.valid_to)

),

-- Which profile each record held right after the build.
after_build as (

    select
        p.built_at,
        h.record_key,
        h.profile_id
    from (select distinct built_at from pairs) as p
    inner join history as h
        on
            p.built_at >= h.valid_from
            and (h.valid_to is null or p.built_at < h.valid_to)

),

-- Links between a moved record and a record that was not in the profile it left.
candidate_causes as (

    select
        c.built_at,
        c.from_profile_id,
        c.to_profile_id,
        e.edge_id,
        e.rule,
        e.identifier_value,
        e.record_a,
        e.record_b,
        r.broken_rule,
        row_number() over (
            partition by c.built_at, c.from_profile_id, c.to_profile_id
            order by
                case when r.edge_id is null then 1 else 0 end,
                e.linked_at desc nulls last,
                e.priority asc,
                e.edge_id asc
        ) as preference
    from classified as c
    inner join moves as m
        on
            c.built_at = m.built_at
            and c.from_profile_id = m.from_profile_id
            and c.to_profile_id = m.to_profile_id
    inner join edges as e on m.record_key in (e.record_a, e.record_b)
    left join before_build as other
        on
            c.built_at = other.built_at
            and other.record_key = case when m.record_key = e.record_a then e.record_b else e.record_a end
    left join after_build as other_now
        on
            c.built_at = other_now.built_at
            and other_now.record_key = case when m.record_key = e.record_a then e.record_b else e.record_a end
    left join refused as r on e.edge_id = r.edge_id
    where
        -- a merge: an accepted link to a record that was not in the profile the moved one left
        (
            c.event_type in ('merge', 'renamed') and r.edge_id is null
            and (other.profile_id is null or other.profile_id != c.from_profile_id)
            and other_now.profile_id = c.to_profile_id
        )
        -- a split or transfer: a refused link to a record that stayed in that profile
        or (
            c.event_type in ('split', 'transfer') and r.edge_id is not null
            and other_now.profile_id = c.from_profile_id
        )

),

final as (

    select
        {{ cdp.surrogate_key(['c.built_at', 'c.from_profile_id', 'c.to_profile_id']) }} as merge_event_id,
        c.built_at,
        c.invocation_id,
        c.event_type,
        case when c.event_type in ('merge', 'renamed') then c.to_profile_id else c.from_profile_id end
            as survivor_profile_id,
        case when c.event_type in ('merge', 'renamed') then c.from_profile_id end as absorbed_profile_id,
        case when c.event_type in ('split', 'transfer') then c.to_profile_id end as split_profile_id,
        c.records_moved,
        c.example_record_key,
        k.edge_id as cause_edge_id,
        k.record_a as cause_record_a,
        k.record_b as cause_record_b,
        case
            when k.edge_id is not null then k.rule
            when c.event_type in ('split', 'transfer') then 'link removed'
        end as cause_rule,
        k.identifier_value as cause_identifier_value,
        k.broken_rule as cause_broken_rule
    from classified as c
    left join candidate_causes as k
        on
            c.built_at = k.built_at
            and c.from_profile_id = k.from_profile_id
            and c.to_profile_id = k.to_profile_id
            and k.preference = 1

)

select * from final
