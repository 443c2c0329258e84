{#
    Every identifier observed on a person record, normalised: one row per record,
    identifier type and value, with when it was first and last seen there.

    Types: the records' own keys (shopify_customer_id, stripe_customer_id, ...), email,
    phone (E.164) and the references one system keeps to another (a Stripe customer's
    Shopify id in its metadata, a Zendesk user's external_id, the contact a Salesforce lead
    was converted into, Segment's user_id, which is the Shopify customer id here).
    Devices (anonymous_id) are not here: they link to profiles in time windows
    (int_device_links), never through this graph.
#}
with

records as (

    select * from {{ ref('int_identity_records') }}

),

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

segment_identifies as (

    select * from {{ ref('stg_segment__identifies') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

salesforce_leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

domain_corrections as (

    select * from {{ ref('email_domain_corrections') }}

),

phone_codes as (

    select * from {{ ref('phone_country_codes') }}

),

observations as (

    -- Each record's own key.
    select
        record_key,
        record_type as identifier_type,
        source_record_id as raw_value,
        cast(null as {{ dbt.type_string() }}) as country_code,
        first_seen_at as observed_at
    from records

    union all
    select
        record_key,
        'email',
        email_raw,
        country_code,
        first_seen_at
    from records
    where email_raw is not null

    union all
    select
        record_key,
        'phone',
        phone_raw,
        country_code,
        first_seen_at
    from records
    where phone_raw is not null

    union all
    select
        record_key,
        'phone',
        phone_2_raw,
        country_code,
        first_seen_at
    from records
    where phone_2_raw is not null

    -- Checkout emails and billing phones belong to the customer who ordered.
    union all
    select
        'shopify_customer_id:' || cast(customer_id as {{ dbt.type_string() }}),
        'email',
        email,
        billing_country_code,
        created_at
    from shopify_orders
    where customer_id is not null and email is not null

    union all
    select
        'shopify_customer_id:' || cast(customer_id as {{ dbt.type_string() }}),
        'phone',
        billing_phone,
        billing_country_code,
        created_at
    from shopify_orders
    where customer_id is not null and billing_phone is not null

    -- The email a logged-in website user gave in identify calls.
    union all
    select
        'user_id:' || user_id,
        'email',
        email,
        null,
        occurred_at
    from segment_identifies
    where user_id is not null and email is not null

    -- References from one system to another.
    union all
    select
        'stripe_customer_id:' || customer_id,
        'shopify_customer_id',
        {{ cdp.json_get_string('metadata', 'shopify_customer_id') }},
        null,
        created_at
    from stripe_customers
    where {{ cdp.json_get_string('metadata', 'shopify_customer_id') }} is not null

    union all
    select
        'zendesk_user_id:' || cast(user_id as {{ dbt.type_string() }}),
        'shopify_customer_id',
        external_id,
        null,
        created_at
    from zendesk_users
    where external_id is not null and not is_agent

    union all
    select
        'salesforce_lead_id:' || lead_id,
        'salesforce_contact_id',
        converted_contact_id,
        null,
        converted_at
    from salesforce_leads
    where converted_contact_id is not null

    {% if var('identity_segment_user_id_type', '') %}
        union all
        select
            record_key,
            '{{ var("identity_segment_user_id_type") }}',
            source_record_id,
            null,
            first_seen_at
        from records
        where record_type = 'user_id'
    {% endif %}

),

emails as (

    select
        o.*,
        split_part({{ cdp.clean_email('o.raw_value') }}, '@', 1) as local_part,
        split_part({{ cdp.clean_email('o.raw_value') }}, '@', 2) as domain
    from observations as o
    where o.identifier_type = 'email'

),

emails_normalized as (

    select
        e.record_key,
        e.identifier_type,
        e.raw_value,
        e.observed_at,
        case
            when e.local_part != ''
                then {{ cdp.fold_email('e.local_part', 'coalesce(d.corrected_domain, e.domain)') }}
        end as identifier_value
    from emails as e
    left join domain_corrections as d on e.domain = d.domain

),

phones as (

    select
        o.*,
        {{ cdp.phone_digits('o.raw_value') }} as digits,
        coalesce(o.country_code, '{{ var("identity_default_phone_country", "US") }}') as phone_country
    from observations as o
    where o.identifier_type = 'phone'

),

phones_normalized as (

    select
        p.record_key,
        p.identifier_type,
        p.raw_value,
        p.observed_at,
        case
            when p.digits like '+%' then p.digits
            when length(p.digits) = c.national_length then '+' || c.calling_code || p.digits
            when c.trunk_prefix is not null
                and length(p.digits) = c.national_length + length(c.trunk_prefix)
                and left(p.digits, length(c.trunk_prefix)) = c.trunk_prefix
                then '+' || c.calling_code || substr(p.digits, length(c.trunk_prefix) + 1)
            when length(p.digits) = c.national_length + length(c.calling_code)
                and left(p.digits, length(c.calling_code)) = c.calling_code
                then '+' || p.digits
        end as e164
    from phones as p
    left join phone_codes as c on p.phone_country = c.country_code

),

phones_valid as (

    select
        record_key,
        identifier_type,
        raw_value,
        observed_at,
        -- E.164: a + and 8 to 15 digits.
        case when length(e164) between 9 and 16 then e164 end as identifier_value
    from phones_normalized

),

keys as (

    select
        record_key,
        identifier_type,
        raw_value,
        observed_at,
        nullif(trim(raw_value), '') as identifier_value
    from observations
    where identifier_type not in ('email', 'phone')

),

unioned as (

    select * from emails_normalized
    union all
    select * from phones_valid
    union all
    select * from keys

),

final as (

    -- Only records that exist: the orders of a deleted Shopify customer name a record that is gone.
    select
        u.record_key,
        u.identifier_type,
        u.identifier_value,
        min(u.raw_value) as raw_value,
        min(u.observed_at) as first_seen_at,
        max(u.observed_at) as last_seen_at,
        count(*) as times_observed
    from unioned as u
    inner join records as r on u.record_key = r.record_key
    where u.identifier_value is not null
    group by u.record_key, u.identifier_type, u.identifier_value

)

select * from final
