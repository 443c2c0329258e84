-- attribution_by_channel: under every model (all seven present) the channels' revenue
-- shares add up to 1 and their revenue to the revenue of every order; the removal effects'
-- normalized shares add up to 1. Returns what breaks it.
with

by_channel as (

    select * from {{ ref('attribution_by_channel') }}

),

orders as (

    select * from {{ ref('int_attribution_orders') }}

),

removal_effects as (

    select * from {{ ref('markov_removal_effects') }}

),

revenue as (

    select
        sum(order_revenue) as total_revenue,
        count(*) as total_orders
    from orders

),

per_model as (

    select
        attribution_model,
        sum(revenue_share) as revenue_share,
        sum(attributed_revenue) as attributed_revenue,
        sum(attributed_orders) as attributed_orders
    from by_channel
    group by attribution_model

),

model_problems as (

    select
        p.attribution_model as what,
        p.revenue_share as value
    from per_model as p
    cross join revenue as r
    where
        (r.total_orders > 0 and abs(p.revenue_share - 1) > 1e-9)
        or abs(p.attributed_revenue - r.total_revenue) > 0.01 + 1e-9 * r.total_revenue
        or abs(p.attributed_orders - r.total_orders) > 1e-6 * (1 + r.total_orders)

),

missing_models as (

    select
        'models present' as what,
        count(*) as value
    from per_model
    having count(*) != 7 and (select total_orders from revenue) > 0

),

effect_problems as (

    select
        'markov normalized_effect' as what,
        sum(normalized_effect) as value
    from removal_effects
    having count(*) > 0 and sum(removal_effect) > 0 and abs(sum(normalized_effect) - 1) > 1e-9

),

final as (

    select * from model_problems
    union all
    select * from missing_models
    union all
    select * from effect_problems

)

select * from final
