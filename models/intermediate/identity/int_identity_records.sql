{#
    Every source record that is about a person, one row each, with the attributes
    identity resolution compares. record_key is '<identifier type>:<source id>', the
    identifier every record carries for itself (shopify_customer_id:6100000000010, ...).
#}
{%- set email_parts = cdp.clean_email('email') -%}
{%- set forgotten_checks = [
    ('record_key', "record_type || ':' || source_record_id"),
    ('email', cdp.fold_email("split_part(" ~ email_parts ~ ", '@', 1)", "split_part(" ~ email_parts ~ ", '@', 2)")),
    ('phone_tail', "right(" ~ cdp.regexp_replace_all('phone', '[^0-9]', '') ~ ", 9)"),
    ('phone_tail', "right(" ~ cdp.regexp_replace_all('phone_2', '[^0-9]', '') ~ ", 9)"),
] %}

with

shopify_customers as (

    select * from {{ ref('stg_shopify__customers') }}

),

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

klaviyo_persons as (

    select * from {{ ref('stg_klaviyo__persons') }}

),

zendesk_users as (

    select * from {{ ref('stg_zendesk__users') }}

),

salesforce_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

salesforce_leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

segment_users as (

    select * from {{ ref('stg_segment__users') }}

),

-- Shopify keeps no address on the customer: take the billing address of the latest order.
latest_billing as (

    select
        customer_id,
        billing_address_line_1,
        billing_city,
        billing_postcode,
        billing_country_code,
        billing_phone
    from shopify_orders
    where customer_id is not null
    {{ cdp.latest_per_key('customer_id', 'created_at') }}

),

records as (

    select
        'shopify_customer_id' as record_type,
        cast(c.customer_id as {{ dbt.type_string() }}) as source_record_id,
        'shopify' as source,
        c.first_name,
        c.last_name,
        c.email,
        coalesce(c.phone, b.billing_phone) as phone,
        cast(null as {{ dbt.type_string() }}) as phone_2,
        b.billing_address_line_1 as street,
        b.billing_city as city,
        b.billing_postcode as postcode,
        b.billing_country_code as country_code,
        cast(null as date) as birth_date,
        c.created_at as first_seen_at,
        c.updated_at as last_seen_at
    from shopify_customers as c
    left join latest_billing as b on c.customer_id = b.customer_id

    union all

    select
        'stripe_customer_id',
        customer_id,
        'stripe',
        -- Stripe keeps one name field: the first word is the first name. A single word may
        -- be either (people give their surname alone as often as their first name): it is
        -- kept as the last name, without a first name, so that it never vetoes a link.
        case when trim(customer_name) like '% %' then split_part(trim(customer_name), ' ', 1) end,
        case
            when trim(customer_name) like '% %'
                then nullif(trim(substr(trim(customer_name), length(split_part(trim(customer_name), ' ', 1)) + 1)), '')
            else nullif(trim(customer_name), '')
        end,
        email,
        phone,
        shipping_phone,
        address_line_1,
        address_city,
        address_postal_code,
        address_country,
        cast(null as date),
        created_at,
        synced_at
    from stripe_customers

    union all

    select
        'klaviyo_person_id',
        person_id,
        'klaviyo',
        first_name,
        last_name,
        email,
        phone,
        null,
        address_line_1,
        city,
        postcode,
        case when length(country) = 2 then upper(country) end,
        cast(null as date),
        created_at,
        coalesce(last_event_at, updated_at)
    from klaviyo_persons

    union all

    -- Zendesk names a user who wrote in by email after the address when nothing better is
    -- known ("jsmith42"): that is not a name.
    select
        'zendesk_user_id',
        cast(user_id as {{ dbt.type_string() }}),
        'zendesk',
        -- (A single word is kept as the last name, as for Stripe.)
        case
            when (email is null or lower(trim(user_name)) != lower(split_part(trim(email), '@', 1)))
                and trim(user_name) like '% %'
                then split_part(trim(user_name), ' ', 1)
        end,
        case
            when email is not null and lower(trim(user_name)) = lower(split_part(trim(email), '@', 1)) then null
            when trim(user_name) like '% %'
                then nullif(trim(substr(trim(user_name), length(split_part(trim(user_name), ' ', 1)) + 1)), '')
            else nullif(trim(user_name), '')
        end,
        email,
        phone,
        null,
        null,
        null,
        null,
        null,
        cast(null as date),
        created_at,
        updated_at
    from zendesk_users
    where not is_agent

    union all

    select
        'salesforce_contact_id',
        contact_id,
        'salesforce',
        first_name,
        last_name,
        email,
        phone,
        mobile_phone,
        mailing_street,
        mailing_city,
        mailing_postal_code,
        mailing_country_code,
        birth_date,
        created_at,
        last_modified_at
    from salesforce_contacts

    union all

    select
        'salesforce_lead_id',
        lead_id,
        'salesforce',
        first_name,
        last_name,
        email,
        phone,
        mobile_phone,
        street,
        city,
        postal_code,
        country_code,
        birth_date,
        created_at,
        last_modified_at
    from salesforce_leads

    union all

    select
        'user_id',
        user_id,
        'segment',
        first_name,
        last_name,
        email,
        phone,
        null,
        address_street,
        address_city,
        address_postal_code,
        address_country,
        cast(null as date),
        user_created_at,
        received_at
    from segment_users

),

final as (

    select
        record_type || ':' || source_record_id as record_key,
        {{ cdp.node_id("record_type || ':' || source_record_id") }} as node_id,
        record_type,
        source_record_id,
        source,
        {{ cdp.normalize_name('first_name') }} as first_name,
        {{ cdp.normalize_name('last_name') }} as last_name,
        email as email_raw,
        phone as phone_raw,
        phone_2 as phone_2_raw,
        {{ cdp.normalize_street('street') }} as street,
        {{ cdp.normalize_name('city') }} as city,
        {{ cdp.normalize_postcode('postcode', 'country_code') }} as postcode,
        upper(country_code) as country_code,
        birth_date,
        first_seen_at,
        last_seen_at
    from records
    -- GDPR forget: records of forgotten people, and records loaded later that carry one of
    -- their emails or phones, never enter identity resolution (macros/privacy).
    where not {{ cdp.privacy_any_suppressed(forgotten_checks) }}

)

select * from final
