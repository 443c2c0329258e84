{#
    One row per person record (int_identity_records) with what the quality score counts:
    which contact fields it fills, whether its email and phone are usable (well formed,
    normalisable, not blocklisted or quarantined junk), and the profile identity
    resolution put it in.
#}
with

records as (

    select * from {{ ref('int_identity_records') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

identifier_values as (

    select * from {{ ref('int_identity_values') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

usable_identifiers as (

    select
        identifiers.record_key,
        identifiers.identifier_type
    from identifiers
    inner join identifier_values
        on
            identifiers.identifier_type = identifier_values.identifier_type
            and identifiers.identifier_value = identifier_values.identifier_value
    where
        identifiers.identifier_type in ('email', 'phone')
        and not identifier_values.is_blocked
        and not identifier_values.is_quarantine_candidate
    group by identifiers.record_key, identifiers.identifier_type

),

final as (

    select
        records.record_key,
        records.source,
        record_profiles.profile_id,
        records.first_name is not null as has_first_name,
        records.last_name is not null as has_last_name,
        nullif(trim(records.email_raw), '') is not null as has_email,
        nullif(trim(coalesce(records.phone_raw, records.phone_2_raw)), '') is not null as has_phone,
        coalesce(records.street, records.city, records.postcode) is not null as has_address,
        records.birth_date is not null as has_birth_date,
        nullif(trim(records.email_raw), '') is not null
        and {{ cdp.clean_email('records.email_raw') }} is not null
        and usable_email.record_key is not null as is_email_valid,
        nullif(trim(coalesce(records.phone_raw, records.phone_2_raw)), '') is not null
        and usable_phone.record_key is not null as is_phone_valid
    from records
    left join record_profiles on records.record_key = record_profiles.record_key
    left join usable_identifiers as usable_email
        on records.record_key = usable_email.record_key and usable_email.identifier_type = 'email'
    left join usable_identifiers as usable_phone
        on records.record_key = usable_phone.record_key and usable_phone.identifier_type = 'phone'

)

select * from final
