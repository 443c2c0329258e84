{#
    Links from values on many records that were examined for quarantine and kept (a
    person with many accounts under one email). Each record carrying such a value links to
    the value's earliest record, a star rather than every pair. For email and phone the
    name rule of int_identity_edges_deterministic applies: a carrier whose first name
    cannot belong to the star's centre is not linked.
#}
with

kept_values as (

    select * from {{ ref('int_identity_quarantine') }}
    where not is_quarantined

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

rules as (

    select * from {{ ref('identity_rules') }}

),

records as (

    select * from {{ ref('int_identity_records') }}

),

nicknames as (

    select * from {{ ref('name_nicknames') }}

),

carriers as (

    select
        i.identifier_type,
        i.identifier_value,
        i.record_key,
        i.first_seen_at,
        r.node_id,
        r.first_name,
        coalesce(n.canonical_name, r.first_name) as canonical_first_name,
        u.priority,
        u.requires_name_match,
        row_number() over (
            partition by i.identifier_type, i.identifier_value
            order by i.first_seen_at, i.record_key
        ) as carrier_rank
    from kept_values as v
    inner join identifiers as i
        on v.identifier_type = i.identifier_type and v.identifier_value = i.identifier_value
    inner join records as r on i.record_key = r.record_key
    inner join rules as u on i.identifier_type = u.identifier_type
    left join nicknames as n on r.first_name = n.nickname

),

stars as (

    select
        centre.record_key as record_a,
        spoke.record_key as record_b,
        centre.node_id as node_a,
        spoke.node_id as node_b,
        spoke.identifier_type,
        spoke.identifier_value,
        spoke.priority,
        greatest(
            coalesce(centre.first_seen_at, spoke.first_seen_at), coalesce(spoke.first_seen_at, centre.first_seen_at)
        ) as linked_at,
        not spoke.requires_name_match
        or centre.first_name is null
        or spoke.first_name is null
        or {{ cdp.names_compatible('centre.first_name', 'spoke.first_name',
                                   'centre.canonical_first_name', 'spoke.canonical_first_name') }} as is_link
    from carriers as centre
    inner join carriers as spoke
        on
            centre.identifier_type = spoke.identifier_type
            and centre.identifier_value = spoke.identifier_value
            and centre.carrier_rank = 1
            and spoke.carrier_rank > 1

)

select * from stars
