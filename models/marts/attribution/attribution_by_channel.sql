{#
    Channels compared across attribution models: one row per model and channel, with the
    orders (fractional: an order split 50/50 counts half to each channel) and revenue the
    model credits to the channel. Every channel with a touch appears under every model.
#}

with

order_attribution as (

    select * from {{ ref('order_attribution') }}

),

by_channel as (

    select
        attribution_model,
        channel,
        sum(credit_share) as attributed_orders,
        sum(attributed_revenue) as attributed_revenue,
        count(distinct order_id) as touched_orders,
        count(*) as touches
    from order_attribution
    group by attribution_model, channel

),

final as (

    select
        attribution_model,
        channel,
        attributed_orders,
        attributed_revenue,
        coalesce(
            attributed_revenue / nullif(sum(attributed_revenue) over (partition by attribution_model), 0), 0
        ) as revenue_share,
        coalesce(
            attributed_orders / nullif(sum(attributed_orders) over (partition by attribution_model), 0), 0
        ) as order_share,
        touched_orders,
        touches
    from by_channel

)

select * from final
