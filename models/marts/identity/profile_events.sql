-- Indentation rules off for this model: its incremental filters and CTEs are Jinja blocks,
-- which the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{#
    Every behavioural event, attributed to the profile of the person who did it: Segment
    track calls (with the properties of their per-event table), page views and app screens,
    Klaviyo events, Shopify orders and Zendesk tickets. One row per event.

    Attribution: a Segment call made while logged in belongs to the user's profile; an
    anonymous one to the profile the device belonged to at that moment (int_device_links;
    before the device's first login, to the first profile that logs in on it); a Klaviyo
    event to its profile's owner; an order to its customer; a ticket to its requester.
    Calls from a device nobody ever logged in on have no profile (profile_id null).

    Incremental (models/intermediate/identity/_identity__docs.md, "profile_events,
    incrementally"): a build writes again (delete+insert on event_id) only
    - the events whose source row was loaded since the newest load this table holds from
      that source (loaded_at: Segment's uuid_ts, Fivetran's _fivetran_synced);
    - the events of the person records whose profile changed since this table's last build
      (int_identity_profile_history rows opened or closed since then: merges, splits, new
      and deleted records);
    - the Segment calls of the devices whose links changed since then (int_device_link_changes).
    The pre-hook removes the events whose source row came back deleted in those loads; the
    post-hooks remove forgotten people's events and events past retention. A full refresh
    gives the same rows (python_tests/test_identity.py proves it on a new load batch).
#}
-- depends_on: {{ ref('int_identity_profile_history') }}
-- depends_on: {{ ref('int_device_link_changes') }}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    cluster_by=['event_name', 'to_date(occurred_at)'],
    pre_hook="{{ cdp.profile_events_delete_reloaded() }}",
    post_hook=[
        "{{ cdp.privacy_delete_forgotten({'user_id': 'user_id', 'anonymous_id': 'anonymous_id', 'profile_id': 'profile_id'}) }}",
        "{{ cdp.retention_delete_expired('occurred_at') }}",
    ],
) }}
{%- set shopify_record_key = "'shopify_customer_id:' || cast(o.customer_id as " ~ dbt.type_string() ~ ")" -%}
{%- set zendesk_record_key = "'zendesk_user_id:' || cast(t.requester_id as " ~ dbt.type_string() ~ ")" -%}
{%- set build_at = cdp.build_started_at() -%}
{%- if is_incremental() -%}
{#- When this table was last built: records and devices changed after it are attributed again. -#}
{%- set last_build = "(select max(attributed_at) from " ~ this ~ ")" -%}
{%- endif %}
with

{% if is_incremental() %}

-- Person records whose profile changed since this table's last build.
changed_records as (

    select record_key from {{ ref('int_identity_profile_history') }}
    where
        valid_from > {{ last_build }}
        or valid_to > {{ last_build }}

),

-- Devices whose links changed since then.
changed_devices as (

    select anonymous_id from {{ ref('int_device_link_changes') }}
    where changed_at > {{ last_build }}

),

{% endif %}

-- One import per kind of call: a CTE read three times would be materialised whole first.
{% for call_type in ['track', 'page', 'screen'] %}
{{ call_type }}_calls as (

    select * from {{ ref('int_segment_calls_deduplicated') }}
    where
        call_type = '{{ call_type }}'
        {%- if is_incremental() %}
        and (
            loaded_at >= {{ cdp.profile_events_loaded_since('segment') }}
            or 'user_id:' || user_id in (select record_key from changed_records)
            or anonymous_id in (select anonymous_id from changed_devices)
        )
        {%- endif %}

),

{% endfor %}
product_viewed as (

    select * from {{ ref('stg_segment__product_viewed_events') }}

),

product_added as (

    select * from {{ ref('stg_segment__product_added_events') }}

),

checkout_started as (

    select * from {{ ref('stg_segment__checkout_started_events') }}

),

order_completed as (

    select * from {{ ref('stg_segment__order_completed_events') }}

),

klaviyo_events as (

    select * from {{ ref('stg_klaviyo__events') }}
    {%- if is_incremental() %}
    where
        synced_at >= {{ cdp.profile_events_loaded_since('klaviyo') }}
        or 'klaviyo_person_id:' || person_id in (select record_key from changed_records)
    {%- endif %}

),

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}
    {%- if is_incremental() %}
    where
        synced_at >= {{ cdp.profile_events_loaded_since('shopify') }}
        or 'shopify_customer_id:' || cast(customer_id as {{ dbt.type_string() }})
        in (select record_key from changed_records)
    {%- endif %}

),

zendesk_tickets as (

    select * from {{ ref('stg_zendesk__tickets') }}
    {%- if is_incremental() %}
    where
        synced_at >= {{ cdp.profile_events_loaded_since('zendesk') }}
        or 'zendesk_user_id:' || cast(requester_id as {{ dbt.type_string() }})
        in (select record_key from changed_records)
    {%- endif %}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

device_links as (

    select * from {{ ref('int_device_links') }}
    where not is_over_limit

),

tracks as (

    select
        'segment' as source,
        t.call_id as source_event_id,
        t.event_name,
        t.occurred_at,
        t.anonymous_id,
        t.user_id,
        t.loaded_at,
        -- One case, so that each call builds only the JSON object it keeps.
        case
            when pv.event_id is not null then {{ cdp.json_object([
                ('product_id', 'pv.product_id'), ('sku', 'pv.sku'), ('category', 'pv.product_category'),
                ('price', 'pv.price')]) }}
            when pa.event_id is not null then {{ cdp.json_object([
                ('product_id', 'pa.product_id'), ('sku', 'pa.sku'), ('category', 'pa.product_category'),
                ('price', 'pa.price'), ('quantity', 'pa.quantity'), ('cart_id', 'pa.cart_id')]) }}
            when cs.event_id is not null then {{ cdp.json_object([
                ('order_id', 'cs.order_id'), ('value', 'cs.checkout_value'), ('currency', 'cs.currency')]) }}
            when oc.event_id is not null then {{ cdp.json_object([
                ('order_id', 'oc.order_id'), ('revenue', 'oc.revenue'), ('total', 'oc.total'),
                ('coupon', 'oc.coupon'), ('currency', 'oc.currency'),
                ('products', cdp.parse_json('oc.products_json'))]) }}
            else {{ cdp.json_object([
                ('page_url', 't.page_url'), ('utm_source', 't.utm_source'), ('utm_medium', 't.utm_medium'),
                ('utm_campaign', 't.utm_campaign')]) }}
        end as properties
    from track_calls as t
    left join product_viewed as pv on t.call_id = pv.event_id
    left join product_added as pa on t.call_id = pa.event_id
    left join checkout_started as cs on t.call_id = cs.event_id
    left join order_completed as oc on t.call_id = oc.event_id

),

segment_events as (

    select * from tracks

    union all

    select
        'segment',
        call_id,
        event_name,
        occurred_at,
        anonymous_id,
        user_id,
        loaded_at,
        {{ cdp.json_object([
            ('path', 'page_path'), ('title', 'page_title'), ('url', 'page_url'), ('referrer', 'page_referrer'),
            ('utm_source', 'utm_source'), ('utm_medium', 'utm_medium'), ('utm_campaign', 'utm_campaign'),
            ('device', "case when device_type is not null then 'app' when user_agent like '%Mobile%' then 'mobile' else 'desktop' end")]) }}
    from page_calls

    union all

    select
        'segment',
        call_id,
        event_name,
        occurred_at,
        anonymous_id,
        user_id,
        loaded_at,
        {{ cdp.json_object([('screen', 'screen_name'), ('device_model', 'device_model')]) }}
    from screen_calls

),

segment_attributed as (

    select
        e.source,
        e.source_event_id,
        e.event_name,
        e.occurred_at,
        e.anonymous_id,
        e.user_id,
        e.loaded_at,
        e.properties,
        coalesce(u.profile_id, d.profile_id) as profile_id
    from segment_events as e
    left join record_profiles as u on 'user_id:' || e.user_id = u.record_key
    left join device_links as d
        on
            e.user_id is null
            and e.anonymous_id = d.anonymous_id
            and (e.occurred_at >= d.valid_from or d.stretch_number = 1)
            and (d.valid_to is null or e.occurred_at < d.valid_to)
    -- GDPR forget: calls of a forgotten person's user id or devices (macros/privacy).
    where not {{ cdp.privacy_any_suppressed([('user_id', 'e.user_id'), ('anonymous_id', 'e.anonymous_id')]) }}

),

other_events as (

    select
        'klaviyo' as source,
        k.event_id as source_event_id,
        k.event_type as event_name,
        k.occurred_at,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        k.synced_at as loaded_at,
        {{ cdp.json_object([
            ('campaign_id', 'k.campaign_id'), ('flow_id', 'k.flow_id'), ('subject', 'k.email_subject'),
            ('value', 'k.event_value'), ('order_id', 'k.order_id'), ('list', 'k.list_name')]) }} as properties,
        p.profile_id
    from klaviyo_events as k
    left join record_profiles as p on 'klaviyo_person_id:' || k.person_id = p.record_key
    where not {{ cdp.privacy_is_suppressed('record_key', "'klaviyo_person_id:' || k.person_id") }}

    union all

    select
        'shopify',
        cast(o.order_id as {{ dbt.type_string() }}),
        'Order Placed',
        o.created_at,
        null,
        null,
        o.synced_at,
        {{ cdp.json_object([
            ('order_id', 'o.order_id'), ('total_price', 'o.total_price'), ('subtotal_price', 'o.subtotal_price'),
            ('financial_status', 'o.financial_status'), ('source_name', 'o.source_name')]) }},
        p.profile_id
    from shopify_orders as o
    left join record_profiles as p
        on 'shopify_customer_id:' || cast(o.customer_id as {{ dbt.type_string() }}) = p.record_key
    where not {{ cdp.privacy_is_suppressed('record_key', shopify_record_key) }}

    union all

    select
        'zendesk',
        cast(t.ticket_id as {{ dbt.type_string() }}),
        'Ticket Created',
        t.created_at,
        null,
        null,
        t.synced_at,
        {{ cdp.json_object([
            ('ticket_id', 't.ticket_id'), ('subject', 't.subject'), ('type', 't.ticket_type'),
            ('priority', 't.priority'), ('status', 't.status'), ('channel', 't.created_channel')]) }},
        p.profile_id
    from zendesk_tickets as t
    left join record_profiles as p
        on 'zendesk_user_id:' || cast(t.requester_id as {{ dbt.type_string() }}) = p.record_key
    where not {{ cdp.privacy_is_suppressed('record_key', zendesk_record_key) }}

),

final as (

    select
        source || ':' || source_event_id as event_id,
        profile_id,
        event_name,
        occurred_at,
        source,
        source_event_id,
        anonymous_id,
        user_id,
        properties,
        loaded_at,
        {{ build_at }} as attributed_at
    from segment_attributed

    union all

    select
        source || ':' || source_event_id,
        profile_id,
        event_name,
        occurred_at,
        source,
        source_event_id,
        anonymous_id,
        user_id,
        properties,
        loaded_at,
        {{ build_at }}
    from other_events

)

select * from final
{%- if var('retention_event_days', none) %}
-- Retention (var retention_event_days): events older than that many days are not kept.
where occurred_at > {{ dbt.dateadd('day', -(var('retention_event_days') | int), cdp.as_of()) }}
{%- endif %}
