{#
    Every value any source record offers for a golden-record field, with the profile it
    belongs to: one row per profile, field and record (a record with two emails offers
    both). Fields that must come from one record together (name: first and last; address:
    street, city, postcode, country) share a field_group; value_key is what "the same
    value" means when counting agreement (the normalised form), completeness how much of
    its group a record fills. Custom fields come from the columns that
    seeds/profiles/golden_record_fields.csv names in custom_sources.
#}
{%- set custom_models = {
    'shopify_customer_id': (ref('stg_shopify__customers'), 'customer_id'),
    'stripe_customer_id': (ref('stg_stripe__customers'), 'customer_id'),
    'klaviyo_person_id': (ref('stg_klaviyo__persons'), 'person_id'),
    'zendesk_user_id': (ref('stg_zendesk__users'), 'user_id'),
    'salesforce_contact_id': (ref('stg_salesforce__contacts'), 'contact_id'),
    'salesforce_lead_id': (ref('stg_salesforce__leads'), 'lead_id'),
    'user_id': (ref('stg_segment__users'), 'user_id'),
} -%}
{#- The record a value comes from, the same columns in every branch below. -#}
{%- set record_columns = ['r.record_key', 'r.source', 'r.source_record_id', 'r.record_type', 'r.observed_at',
                          'r.first_observed_at'] | join(', ') -%}
{%- set custom_fields = [] -%}
{%- for row in cdp.golden_record_field_rows() -%}
    {%- for item in row.custom_sources -%}
        {%- set parts = item.split('.') -%}
        {%- if parts | length != 2 or parts[0] not in custom_models -%}
            {{ exceptions.raise_compiler_error(
                "seeds/profiles/golden_record_fields.csv, field '" ~ row.field ~ "': custom source '" ~ item
                ~ "' is not <record type>.<column>; record types: " ~ (custom_models.keys() | sort | join(', '))) }}
        {%- endif -%}
        {%- if execute -%}
            {%- set columns = adapter.get_columns_in_relation(custom_models[parts[0]][0]) | map(attribute='name')
                              | map('lower') | list -%}
            {%- if parts[1] | lower not in columns -%}
                {{ exceptions.raise_compiler_error(
                    "seeds/profiles/golden_record_fields.csv, field '" ~ row.field ~ "': " ~ parts[0] ~ " records ("
                    ~ custom_models[parts[0]][0].identifier ~ ") have no column '" ~ parts[1] ~ "'; columns: "
                    ~ (columns | join(', '))) }}
            {%- endif -%}
        {%- endif -%}
        {%- do custom_fields.append((row.field, parts[0], parts[1] | lower)) -%}
    {%- endfor -%}
{%- endfor -%}

with

records as (

    select * from {{ ref('int_identity_records') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

identity_values as (

    select * from {{ ref('int_identity_values') }}

),

quarantine as (

    select * from {{ ref('int_identity_quarantine') }}

),

shopify_customer_tags as (

    select * from {{ ref('stg_shopify__customer_tags') }}

),

name_fields as (

    select 'first_name' as field
    union all
    select 'last_name'

),

address_fields as (

    select 'street' as field
    union all
    select 'city'
    union all
    select 'postcode'
    union all
    select 'country_code'

),

profiled_records as (

    select
        p.profile_id,
        r.*,
        -- When the source last confirmed the record's values (its last update) and first had
        -- them. Stripe customers carry no update time, only the time of the last sync, which
        -- says nothing about the values: their creation time stands in.
        case when r.source = 'stripe' then r.first_seen_at else coalesce(r.last_seen_at, r.first_seen_at) end
            as observed_at,
        r.first_seen_at as first_observed_at
    from records as r
    inner join record_profiles as p on r.record_key = p.record_key

),

names as (

    -- Both fields of a record, even if one is empty: the group travels together.
    select
        r.profile_id,
        'name' as field_group,
        f.field,
        case f.field
            when 'first_name' then {{ cdp.proper_case('r.first_name') }}
            else {{ cdp.proper_case('r.last_name') }}
        end as value,
        coalesce(r.first_name, '') || '|' || coalesce(r.last_name, '') as value_key,
        (case when r.first_name is not null then 1 else 0 end) + (case when r.last_name is not null then 1 else 0 end)
            as completeness,
        {{ record_columns }}
    from profiled_records as r
    cross join name_fields as f
    where r.first_name is not null or r.last_name is not null

),

-- Usable email and phone values: not blocked, not quarantined.
contact_points as (

    select
        i.record_key,
        i.identifier_type as field,
        i.identifier_value as value
    from identifiers as i
    left join identity_values as v
        on i.identifier_type = v.identifier_type and i.identifier_value = v.identifier_value
    left join quarantine as q
        on i.identifier_type = q.identifier_type and i.identifier_value = q.identifier_value and q.is_quarantined
    where i.identifier_type in ('email', 'phone') and not coalesce(v.is_blocked, false) and q.identifier_value is null

),

contacts as (

    select
        r.profile_id,
        c.field as field_group,
        c.field,
        c.value,
        c.value as value_key,
        1 as completeness,
        {{ record_columns }}
    from contact_points as c
    inner join profiled_records as r on c.record_key = r.record_key

),

addresses as (

    select
        r.profile_id,
        'address' as field_group,
        f.field,
        case f.field
            when 'street' then {{ cdp.proper_case('r.street') }}
            when 'city' then {{ cdp.proper_case('r.city') }}
            when 'postcode' then r.postcode
            else r.country_code
        end as value,
        coalesce(r.street, '') || '|' || coalesce(r.postcode, '') || '|' || coalesce(r.city, '') as value_key,
        (case when r.street is not null then 4 else 0 end) + (case when r.postcode is not null then 2 else 0 end)
        + (case when r.city is not null then 1 else 0 end) as completeness,
        {{ record_columns }}
    from profiled_records as r
    cross join address_fields as f
    where r.street is not null or r.city is not null

),

birth_dates as (

    select
        r.profile_id,
        'birth_date' as field_group,
        'birth_date' as field,
        cast(r.birth_date as {{ dbt.type_string() }}) as value,
        cast(r.birth_date as {{ dbt.type_string() }}) as value_key,
        1 as completeness,
        {{ record_columns }}
    from profiled_records as r
    where r.birth_date is not null

),

tags as (

    select
        r.profile_id,
        'tags' as field_group,
        'tags' as field,
        lower(trim(t.tag)) as value,
        lower(trim(t.tag)) as value_key,
        1 as completeness,
        {{ record_columns }}
    from shopify_customer_tags as t
    inner join profiled_records as r
        on 'shopify_customer_id:' || cast(t.customer_id as {{ dbt.type_string() }}) = r.record_key
    where nullif(trim(t.tag), '') is not null

),

custom as (

    {%- for field, record_type, column in custom_fields %}
    {%- set relation, key = custom_models[record_type] %}
    select
        r.profile_id,
        '{{ field }}' as field_group,
        '{{ field }}' as field,
        trim(cast(s.{{ column }} as {{ dbt.type_string() }})) as value,
        lower(trim(cast(s.{{ column }} as {{ dbt.type_string() }}))) as value_key,
        1 as completeness,
        {{ record_columns }}
    from {{ relation }} as s
    inner join profiled_records as r
        on '{{ record_type }}:' || cast(s.{{ key }} as {{ dbt.type_string() }}) = r.record_key
    where nullif(trim(cast(s.{{ column }} as {{ dbt.type_string() }})), '') is not null
    union all
    {%- endfor %}
    select
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        0,
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_timestamp() }}),
        cast(null as {{ dbt.type_timestamp() }})
    where 1 = 0

),

candidates as (

    select * from names
    union all
    select * from contacts
    union all
    select * from addresses
    union all
    select * from birth_dates
    union all
    select * from tags
    union all
    select * from custom

),

final as (

    select * from candidates

)

select * from final
