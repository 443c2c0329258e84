{#
    One row per linking identifier value (type and normalised value) with what decides its
    fate: blocked by the blocklist, how many records carry it, and whether that is many
    enough to make it a candidate for quarantine (int_identity_quarantine decides).
#}
with

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

rules as (

    select * from {{ ref('identity_rules') }}
    where is_link

),

blocklist as (

    select * from {{ ref('identity_blocklist') }}

),

values_ as (

    select
        i.identifier_type,
        i.identifier_value,
        count(distinct i.record_key) as record_count,
        min(i.first_seen_at) as first_seen_at,
        max(i.last_seen_at) as last_seen_at
    from identifiers as i
    inner join rules as r on i.identifier_type = r.identifier_type
    group by i.identifier_type, i.identifier_value

),

blocked as (

    -- One row per value even when several patterns match it.
    select
        v.identifier_type,
        v.identifier_value,
        min(b.reason) as blocked_reason
    from values_ as v
    inner join blocklist as b
        on v.identifier_type = b.identifier_type and v.identifier_value like b.pattern
    group by v.identifier_type, v.identifier_value

),

final as (

    select
        v.identifier_type,
        v.identifier_value,
        v.record_count,
        v.first_seen_at,
        v.last_seen_at,
        b.blocked_reason,
        b.blocked_reason is not null as is_blocked,
        -- Few records cannot join many people: only values on more records than the
        -- quarantine threshold are examined (and kept out of the base graph meanwhile).
        b.blocked_reason is null
        and v.record_count > {{ var('identity_quarantine_min_people', 5) }} as is_quarantine_candidate
    from values_ as v
    left join blocked as b
        on v.identifier_type = b.identifier_type and v.identifier_value = b.identifier_value

)

select * from final
