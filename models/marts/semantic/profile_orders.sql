{#
    Orders for metrics: one row per Shopify order that counts as a purchase (not refunded
    or voided), read from profile_events exactly as the purchase traits read them
    (models/marts/profiles/_profiles__traits.yml), so revenue here and lifetime_value in
    profile_traits always add up. Orders whose customer resolved to no profile keep a null
    profile_id: they are revenue all the same.
#}
with

events as (

    select * from {{ ref('profile_events') }}

),

orders as (

    select
        source_event_id as order_id,
        profile_id,
        occurred_at as ordered_at,
        cast(occurred_at as date) as order_date,
        cast({{ cdp.json_get_string('properties', 'total_price') }} as decimal(18, 2)) as order_revenue,
        {{ cdp.json_get_string('properties', 'financial_status') }} as financial_status,
        {{ cdp.json_get_string('properties', 'source_name') }} as source_name
    from events
    where source = 'shopify' and event_name = 'Order Placed'

),

final as (

    select * from orders
    where coalesce(financial_status, '') not in ('refunded', 'voided')

)

select * from final
