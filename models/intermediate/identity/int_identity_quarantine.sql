{#
    The identifier values that would join more than var('identity_quarantine_min_people')
    otherwise-distinct people: a shared inbox, test@test.com, 0000000000. One row per value
    examined (those on more records than the threshold), with its counts and whether it
    is quarantined.

    People are told apart by name: the records of one person carry one name key (last name
    and the initial of the first name after nickname canonicalisation; a typo adds at most
    one), so a value on records with more distinct name keys than the threshold joins that
    many people. A value on more records than any person has
    (var('identity_max_records_per_value')) is quarantined whatever the names say: that
    catches junk that only nameless records carry.
#}
with

identifier_values as (

    select * from {{ ref('int_identity_values') }}
    where is_quarantine_candidate

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

records as (

    select * from {{ ref('int_identity_records') }}

),

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

carriers as (

    select
        v.identifier_type,
        v.identifier_value,
        case
            when r.last_name is not null and r.first_name is not null
                then r.last_name || '|' || left(coalesce(n.canonical_name, r.first_name), 1)
        end as name_key
    from identifier_values as v
    inner join identifiers as i
        on v.identifier_type = i.identifier_type and v.identifier_value = i.identifier_value
    inner join records as r on i.record_key = r.record_key
    left join nicknames as n on r.first_name = n.nickname

),

people as (

    select
        identifier_type,
        identifier_value,
        count(distinct name_key) as people_count
    from carriers
    group by identifier_type, identifier_value

),

final as (

    select
        v.identifier_type,
        v.identifier_value,
        v.record_count,
        p.people_count,
        v.first_seen_at,
        v.last_seen_at,
        p.people_count > {{ var('identity_quarantine_min_people', 5) }}
        or v.record_count > {{ var('identity_max_records_per_value', 15) }} as is_quarantined
    from identifier_values as v
    inner join people as p
        on v.identifier_type = p.identifier_type and v.identifier_value = p.identifier_value

)

select * from final
