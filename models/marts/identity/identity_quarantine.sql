{#
    Identifier values identity resolution does not link through: blocked by the
    blocklist (seed identity_blocklist), or quarantined because they would join more than
    var('identity_quarantine_min_people') distinct people or sit on more records than any
    person has. One row per value, with its counts. A steward acknowledges a quarantined
    value by adding it to seed identity_quarantine_acknowledged; a test warns about the
    others (new ones).
#}
with

identifier_values as (

    select * from {{ ref('int_identity_values') }}

),

quarantine as (

    select * from {{ ref('int_identity_quarantine') }}

),

acknowledged as (

    select * from {{ ref('identity_quarantine_acknowledged') }}

),

blocked as (

    select
        identifier_type,
        identifier_value,
        'blocked' as status,
        blocked_reason as reason,
        record_count,
        cast(null as {{ dbt.type_bigint() }}) as people_count,
        first_seen_at,
        last_seen_at
    from identifier_values
    where is_blocked

),

quarantined as (

    select
        identifier_type,
        identifier_value,
        'quarantined' as status,
        case
            when people_count > {{ var('identity_quarantine_min_people', 5) }}
                then 'shared by ' || cast(people_count as {{ dbt.type_string() }}) || ' people'
            else 'on ' || cast(record_count as {{ dbt.type_string() }}) || ' records'
        end as reason,
        record_count,
        people_count,
        first_seen_at,
        last_seen_at
    from quarantine
    where is_quarantined

),

unioned as (

    select * from blocked
    union all
    select * from quarantined

),

final as (

    select
        {{ cdp.surrogate_key(['u.identifier_type', 'u.identifier_value']) }} as quarantine_id,
        u.identifier_type,
        u.identifier_value,
        u.status,
        u.reason,
        u.record_count,
        u.people_count,
        u.first_seen_at,
        u.last_seen_at,
        a.identifier_value is not null as is_acknowledged
    from unioned as u
    left join acknowledged as a
        on u.identifier_type = a.identifier_type and u.identifier_value = a.identifier_value

)

select * from final
