-- Under every attribution model, every order is credited exactly once in full: its credit
-- shares add up to 1 (within 1e-9) and its attributed revenue to its revenue (within half a
-- cent), no share is negative or above 1, and no order is missing. Returns what breaks it.
with

orders as (

    select * from {{ ref('int_attribution_orders') }}

),

order_attribution as (

    select * from {{ ref('order_attribution') }}

),

models as (

    select distinct attribution_model from order_attribution

),

credited as (

    select
        order_id,
        attribution_model,
        sum(credit_share) as credit_share,
        sum(attributed_revenue) as attributed_revenue,
        min(credit_share) as smallest_share,
        max(credit_share) as largest_share
    from order_attribution
    group by order_id, attribution_model

),

expected as (

    select
        o.order_id,
        o.order_revenue,
        m.attribution_model
    from orders as o
    cross join models as m

),

final as (

    select
        e.order_id,
        e.attribution_model,
        e.order_revenue,
        c.credit_share,
        c.attributed_revenue
    from expected as e
    left join credited as c
        on e.order_id = c.order_id and e.attribution_model = c.attribution_model
    where
        c.order_id is null
        or abs(c.credit_share - 1) > 1e-9
        or abs(c.attributed_revenue - e.order_revenue) > 0.005
        or c.smallest_share < 0
        or c.largest_share > 1 + 1e-9

)

select * from final
