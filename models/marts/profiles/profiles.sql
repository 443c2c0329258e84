{#
    The golden record: one row per profile. Each field's value and the rule that chose it
    come from int_profile_field_survivors (rules: seeds/profiles/golden_record_fields.csv);
    why a value won is in profile_field_provenance. Custom fields (rows of the seed with
    custom_sources) land in custom_fields, a JSON object, so adding one needs no SQL edit
    and no change to this table's contract.
#}
{%- set text_fields = ['first_name', 'last_name', 'email', 'phone', 'street', 'city', 'postcode', 'country_code',
                       'tags', 'email_consent', 'sms_consent'] -%}
{%- set custom_pairs = [] -%}
{%- for field in cdp.golden_record_custom_fields() -%}
    {%- do custom_pairs.append((field, "max(case when field = '" ~ field ~ "' then value end)")) -%}
{%- endfor -%}

with

survivors as (

    select * from {{ ref('int_profile_field_survivors') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

records as (

    select * from {{ ref('int_identity_records') }}

),

identifiers as (

    select * from {{ ref('profile_identifiers') }}

),

events as (

    select * from {{ ref('profile_events') }}

),

fields as (

    select
        profile_id,
        {%- for field in text_fields %}
        max(case when field = '{{ field }}' then value end) as {{ field }},  -- noqa: LT02
        {%- endfor %}
        cast(max(case when field = 'birth_date' then value end) as date) as birth_date,
        max(case when field = 'email_consent' then observed_at end) as email_consent_at,
        max(case when field = 'sms_consent' then observed_at end) as sms_consent_at,  -- noqa: LT02
        {%- if custom_pairs %}
        {{ cdp.json_object(custom_pairs) }} as custom_fields
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as custom_fields  -- noqa: LT02
        {%- endif %}
    from survivors
    group by profile_id

),

record_counts as (

    select
        p.profile_id,
        count(*) as record_count,
        count(distinct r.source) as source_count,
        {{ cdp.sorted_unique_list('r.source') }} as sources,
        min(r.first_seen_at) as first_record_at,
        -- (Stripe customers: creation time, as in int_profile_field_candidates)
        max(
            case when r.source = 'stripe' then r.first_seen_at else coalesce(r.last_seen_at, r.first_seen_at) end
        ) as last_record_at
    from record_profiles as p
    inner join records as r on p.record_key = r.record_key
    group by p.profile_id

),

identifier_counts as (

    select
        profile_id,
        count(distinct identifier_type || ':' || identifier_value) as identifier_count
    from identifiers
    group by profile_id

),

activity as (

    select
        profile_id,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at
    from events
    where profile_id is not null
    group by profile_id

),

final as (

    select
        c.profile_id,
        f.first_name,
        f.last_name,
        f.email,
        f.phone,
        f.street,
        f.city,
        f.postcode,
        f.country_code,
        f.birth_date,
        f.tags,
        f.custom_fields,
        coalesce(f.email_consent, 'unknown') as email_consent,
        f.email_consent_at,
        coalesce(f.sms_consent, 'unknown') as sms_consent,
        f.sms_consent_at,
        coalesce(f.email_consent = 'opted_in' and f.email is not null, false) as can_email,
        coalesce(f.sms_consent = 'opted_in' and f.phone is not null, false) as can_sms,
        least(c.first_record_at, coalesce(a.first_event_at, c.first_record_at)) as first_seen_at,
        greatest(c.last_record_at, coalesce(a.last_event_at, c.last_record_at)) as last_seen_at,
        c.record_count,
        c.source_count,
        c.sources,
        coalesce(i.identifier_count, 0) as identifier_count
    from record_counts as c
    left join fields as f on c.profile_id = f.profile_id
    left join identifier_counts as i on c.profile_id = i.profile_id
    left join activity as a on c.profile_id = a.profile_id

)

select * from final
