{#
    Every identifier of every profile: one row per profile, identifier type and value,
    and for devices (anonymous_id) one row per stretch of time the device belonged to the
    profile (valid_from, valid_to; valid_to null while it still does). Every source record
    appears through its own record-key identifier (shopify_customer_id, klaviyo_person_id,
    ...), so each record can be traced to its profile.
#}
with

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

device_links as (

    select * from {{ ref('int_device_links') }}
    where not is_over_limit

),

logins as (

    select * from {{ ref('int_device_logins') }}

),

record_identifiers as (

    select
        p.profile_id,
        i.identifier_type,
        i.identifier_value,
        min(i.first_seen_at) as first_seen_at,
        max(i.last_seen_at) as last_seen_at,
        cast(null as {{ dbt.type_timestamp() }}) as valid_from,
        cast(null as {{ dbt.type_timestamp() }}) as valid_to
    from identifiers as i
    inner join record_profiles as p on i.record_key = p.record_key
    group by p.profile_id, i.identifier_type, i.identifier_value

),

device_identifiers as (

    select
        d.profile_id,
        'anonymous_id' as identifier_type,
        d.anonymous_id as identifier_value,
        min(l.seen_at) as first_seen_at,
        max(l.seen_at) as last_seen_at,
        d.valid_from,
        d.valid_to
    from device_links as d
    inner join logins as l
        on
            d.anonymous_id = l.anonymous_id
            and d.profile_id = l.profile_id
            and d.valid_from <= l.seen_at
            and (d.valid_to is null or d.valid_to > l.seen_at)
    group by d.profile_id, d.anonymous_id, d.valid_from, d.valid_to

),

unioned as (

    select * from record_identifiers
    union all
    select * from device_identifiers

),

final as (

    select
        {{ cdp.surrogate_key(['profile_id', 'identifier_type', 'identifier_value', 'valid_from']) }}
            as profile_identifier_id,
        profile_id,
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        valid_from,
        valid_to
    from unioned

)

select * from final
