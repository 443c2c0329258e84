{#
    Subscription state per profile, from Stripe: one row per profile that has (or had) a
    Stripe subscription. Monthly recurring revenue (MRR) is the sum over the profile's
    active or trialing subscriptions of each item's price times quantity, per month
    (yearly prices / 12, weekly x 52 / 12, daily x 365 / 12), in the price's currency units.
#}
with

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

subscription_items as (

    select * from {{ ref('stg_stripe__subscription_items') }}

),

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

item_mrr as (

    select
        i.subscription_id,
        sum(
            -- (Floating-point factors: on Snowflake 1.0 / 12 is a fixed-point NUMBER cut to a few
            -- decimals (0.0833333), which puts large yearly prices cents off; DuckDB uses a double.)
            p.unit_amount * coalesce(i.quantity, 1)
            * case p.recurring_interval
                when 'month' then cast(1 as {{ dbt.type_float() }})
                when 'year' then cast(1 as {{ dbt.type_float() }}) / 12
                when 'week' then cast(52 as {{ dbt.type_float() }}) / 12
                when 'day' then cast(365 as {{ dbt.type_float() }}) / 12
            end
            / coalesce(nullif(p.recurring_interval_count, 0), 1)
        ) as mrr
    from subscription_items as i
    inner join prices as p on i.price_id = p.price_id
    group by i.subscription_id

),

profiled as (

    select
        r.profile_id,
        s.subscription_id,
        s.status,
        s.started_at,
        s.canceled_at,
        s.status in ('active', 'trialing', 'past_due') as is_live,
        coalesce(m.mrr, 0) as mrr
    from subscriptions as s
    inner join record_profiles as r on 'stripe_customer_id:' || s.customer_id = r.record_key
    left join item_mrr as m on s.subscription_id = m.subscription_id

),

-- The subscription that speaks for the profile: live before ended, then the newest.
headline as (

    select
        profile_id,
        status
    from profiled
    qualify row_number() over (
            partition by profile_id
            order by
                case status when 'active' then 1 when 'past_due' then 2 when 'trialing' then 3 else 4 end,
                started_at desc nulls last, subscription_id asc
        ) = 1

),

final as (

    select
        p.profile_id,
        h.status as subscription_status,
        count(*) as subscription_count,
        count(case when p.is_live then 1 end) as live_subscription_count,
        -- (past_due is live but not revenue until paid)
        cast(sum(case when p.is_live and p.status != 'past_due' then p.mrr else 0 end) as decimal(18, 2)) as mrr,
        min(p.started_at) as first_subscribed_at,
        max(p.canceled_at) as last_canceled_at
    from profiled as p
    inner join headline as h on p.profile_id = h.profile_id
    group by p.profile_id, h.status

)

select * from final
