{{ config(
    materialized='incremental',
    unique_key='data_quality_score_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

{#
    The data-quality score, one row per source, for all sources together and for the
    golden records, per build: kept across builds so its trend can be charted. Each
    component is a share between 0 and 1 (definitions on the model's YAML); the score is
    their mean on a 0-100 scale.
#}

with

raw_tables as (

    select * from {{ ref('int_raw_tables_profiled') }}

),

person_records as (

    select * from {{ ref('int_person_records_assessed') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

identifier_values as (

    select * from {{ ref('int_identity_values') }}

),

table_freshness as (

    select
        source_name,
        row_count,
        duplicate_key_rows,
        case
            when warn_after_hours is null and error_after_hours is null then null
            when last_loaded_at is null then 0.0
            when hours_since_load <= coalesce(warn_after_hours, error_after_hours) then 1.0
            when error_after_hours is null or hours_since_load >= error_after_hours then 0.0
            else 1.0 - (hours_since_load - warn_after_hours) / (error_after_hours - warn_after_hours)
        end as freshness
    from raw_tables

),

source_tables as (

    select
        source_name,
        sum(row_count) as raw_rows,
        sum(duplicate_key_rows) as duplicate_key_rows,
        avg(freshness) as freshness
    from table_freshness
    group by source_name

),

source_records as (

    select
        source as source_name,
        count(*) as person_records,
        count(distinct profile_id) as profiles,
        sum(case when has_first_name then 1 else 0 end) as first_names,
        sum(case when has_last_name then 1 else 0 end) as last_names,
        sum(case when has_email then 1 else 0 end) as emails,
        sum(case when has_phone then 1 else 0 end) as phones,
        sum(case when has_address then 1 else 0 end) as addresses,
        sum(case when has_birth_date then 1 else 0 end) as birth_dates,
        sum(case when is_email_valid then 1 else 0 end) as valid_emails,
        sum(case when is_phone_valid then 1 else 0 end) as valid_phones
    from person_records
    group by source

),

source_counts as (

    -- A field counts towards completeness only in a source that carries it at all.
    select
        source_tables.source_name,
        source_tables.raw_rows,
        source_tables.duplicate_key_rows,
        source_tables.freshness,
        coalesce(source_records.person_records, 0) as person_records,
        coalesce(source_records.profiles, 0) as profiles,
        coalesce(
            source_records.first_names + source_records.last_names + source_records.emails
            + source_records.phones + source_records.addresses + source_records.birth_dates, 0
        ) as filled_fields,
        coalesce(source_records.person_records * (
            case when source_records.first_names > 0 then 1 else 0 end
            + case when source_records.last_names > 0 then 1 else 0 end
            + case when source_records.emails > 0 then 1 else 0 end
            + case when source_records.phones > 0 then 1 else 0 end
            + case when source_records.addresses > 0 then 1 else 0 end
            + case when source_records.birth_dates > 0 then 1 else 0 end
        ), 0) as offered_fields,
        coalesce(source_records.emails + source_records.phones, 0) as contact_values,
        coalesce(source_records.valid_emails + source_records.valid_phones, 0) as valid_contact_values
    from source_tables
    left join source_records on source_tables.source_name = source_records.source_name

),

all_sources as (

    select
        'all_sources' as source_name,
        sum(source_counts.raw_rows) as raw_rows,
        sum(source_counts.duplicate_key_rows) as duplicate_key_rows,
        avg(source_counts.freshness) as freshness,
        sum(source_counts.person_records) as person_records,
        (select count(distinct person_records.profile_id) from person_records) as profiles,
        sum(source_counts.filled_fields) as filled_fields,
        sum(source_counts.offered_fields) as offered_fields,
        sum(source_counts.contact_values) as contact_values,
        sum(source_counts.valid_contact_values) as valid_contact_values
    from source_counts

),

profile_contacts as (

    -- A golden email or phone held by more than one profile: a duplicate the identity
    -- rules left apart (couples sharing an address are counted too).
    select
        profiles.profile_id,
        profiles.first_name is not null as has_first_name,
        profiles.last_name is not null as has_last_name,
        profiles.email is not null as has_email,
        profiles.phone is not null as has_phone,
        coalesce(profiles.street, profiles.city, profiles.postcode) is not null as has_address,
        profiles.birth_date is not null as has_birth_date,
        profiles.email is not null and coalesce(not email_values.is_blocked, true) as is_email_valid,
        profiles.phone is not null and coalesce(not phone_values.is_blocked, true) as is_phone_valid,
        count(*) over (partition by profiles.email) > 1 and profiles.email is not null
        or count(*) over (partition by profiles.phone) > 1 and profiles.phone is not null as is_shared_contact
    from profiles
    left join identifier_values as email_values
        on email_values.identifier_type = 'email' and profiles.email = email_values.identifier_value
    left join identifier_values as phone_values
        on phone_values.identifier_type = 'phone' and profiles.phone = phone_values.identifier_value

),

golden_records as (

    select
        'profiles' as source_name,
        count(*) as raw_rows,
        count(*) - count(distinct profile_id) as duplicate_key_rows,
        (select avg(source_counts.freshness) from source_counts) as freshness,
        count(*) as person_records,
        count(*) - sum(case when is_shared_contact then 1 else 0 end) as profiles,
        sum(
            case when has_first_name then 1 else 0 end + case when has_last_name then 1 else 0 end
            + case when has_email then 1 else 0 end + case when has_phone then 1 else 0 end
            + case when has_address then 1 else 0 end + case when has_birth_date then 1 else 0 end
        ) as filled_fields,
        6 * count(*) as offered_fields,
        sum(case when has_email then 1 else 0 end + case when has_phone then 1 else 0 end) as contact_values,
        sum(case when is_email_valid then 1 else 0 end + case when is_phone_valid then 1 else 0 end)
            as valid_contact_values
    from profile_contacts

),

measured as (

    select
        'raw' as layer,
        source_counts.*
    from source_counts
    union all
    select
        'raw' as layer,
        all_sources.*
    from all_sources
    union all
    select
        'marts' as layer,
        golden_records.*
    from golden_records

),

components as (

    select
        layer,
        source_name,
        raw_rows,
        person_records,
        profiles,
        cast(filled_fields as double) / nullif(offered_fields, 0) as completeness,
        cast(valid_contact_values as double) / nullif(contact_values, 0) as validity,
        1.0 - cast(duplicate_key_rows as double) / nullif(raw_rows, 0) as uniqueness,
        1.0 - cast(profiles as double) / nullif(person_records, 0) as duplicate_rate,
        freshness
    from measured

),

final as (

    select
        {{ cdp.surrogate_key(['source_name', "'" ~ invocation_id ~ "'"]) }} as data_quality_score_id,
        layer,
        source_name,
        {{ cdp.as_of() }} as measured_at,
        {{ cdp.utc_now() }} as built_at,
        '{{ invocation_id }}' as dbt_invocation_id,
        cast(raw_rows as bigint) as raw_rows,
        cast(person_records as bigint) as person_records,
        cast(profiles as bigint) as profiles,
        completeness,
        validity,
        uniqueness,
        duplicate_rate,
        freshness,
        -- The mean of the components that apply (a source with no person records has
        -- no completeness, validity or duplicate rate).
        100.0 * (
            coalesce(completeness, 0) + coalesce(validity, 0) + coalesce(uniqueness, 0)
            + coalesce(1.0 - duplicate_rate, 0) + coalesce(freshness, 0)
        ) / nullif(
            case when completeness is null then 0 else 1 end
            + case when validity is null then 0 else 1 end
            + case when uniqueness is null then 0 else 1 end
            + case when duplicate_rate is null then 0 else 1 end
            + case when freshness is null then 0 else 1 end, 0
        ) as quality_score
    from components

)

select * from final
