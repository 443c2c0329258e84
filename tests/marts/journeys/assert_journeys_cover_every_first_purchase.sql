-- journey_paths accounts for every profile's first purchase exactly once: converted profiles
-- add up to the profiles with a first order, and the shares to 1. Returns what breaks it.
with

paths as (

    select * from {{ ref('journey_paths') }}

),

orders as (

    select * from {{ ref('int_attribution_orders') }}

),

buyers as (

    select count(*) as first_orders
    from orders
    where is_first_order

),

totals as (

    select
        coalesce(sum(converted_profiles), 0) as converted_profiles,
        coalesce(sum(share_of_converters), 0) as share_of_converters
    from paths

),

final as (

    select
        b.first_orders,
        t.converted_profiles,
        t.share_of_converters
    from buyers as b
    cross join totals as t
    where
        b.first_orders != t.converted_profiles
        or (b.first_orders > 0 and abs(t.share_of_converters - 1) > 1e-9)

)

select * from final
