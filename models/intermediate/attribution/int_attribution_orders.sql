{#
    The orders attribution credits: Shopify orders as the profile traits count them (the
    "Order Placed" events of profile_events, refunded and voided orders left out, revenue =
    total_price), placed up to the as-of moment. Orders whose customer resolved to no
    profile are kept (profile_id null), so every order's revenue is credited somewhere.
#}

with

shopify_orders as (

    select * from {{ ref('profile_events') }}
    where source = 'shopify' and event_name = 'Order Placed'

),

parsed as (

    select
        source_event_id as order_id,
        profile_id,
        occurred_at as ordered_at,
        {{ cdp.json_get_string('properties', 'financial_status') }} as financial_status,
        cast({{ cdp.json_get_string('properties', 'total_price') }} as decimal(18, 2)) as order_revenue
    from shopify_orders
    where occurred_at <= {{ cdp.as_of() }}

),

purchases as (

    select *
    from parsed
    where financial_status is null or financial_status not in ('refunded', 'voided')

),

final as (

    select
        order_id,
        profile_id,
        ordered_at,
        coalesce(order_revenue, 0) as order_revenue,
        profile_id is not null and row_number() over (
            partition by profile_id order by ordered_at, order_id
        ) = 1 as is_first_order
    from purchases

)

select * from final
