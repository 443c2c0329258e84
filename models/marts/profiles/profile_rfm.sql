{#
    RFM: one row per profile with at least one order. Recency (days since the last order),
    frequency (orders) and monetary value (lifetime value) are each scored 1-5 by quintile
    among customers, 5 the best. Tie rule: equal values always get the same score, the
    score of the first of them in order (score = 1 + floor(5 * (rank - 1) / customers)),
    so the scores are deterministic and never split a tie arbitrarily; a heavily tied value
    (most people order once) makes uneven quintiles rather than arbitrary ones. The named
    segment comes from seeds/profiles/rfm_segment_rules.csv, which maps each of the 125
    (R, F, M) cells to exactly one segment (tests/marts/profiles prove it).
#}
with

traits as (

    select * from {{ ref('profile_traits') }}

),

segment_rules as (

    select * from {{ ref('rfm_segment_rules') }}

),

customers as (

    select
        profile_id,
        days_since_last_order as recency_days,
        order_count as frequency,
        lifetime_value as monetary,
        count(*) over () as customer_count
    from traits
    where order_count > 0

),

ranked as (

    select
        *,
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by frequency asc) as frequency_rank,
        rank() over (order by monetary asc) as monetary_rank
    from customers

),

-- In floating point: Snowflake's fixed-point division would round the quotient to a few
-- decimals, which tips it up to the next score once there are tens of millions of customers.
scored as (

    select
        profile_id,
        recency_days,
        frequency,
        monetary,
        cast(1 + floor(cast(5 * (recency_rank - 1) as {{ dbt.type_float() }}) / customer_count) as integer)
            as recency_score,
        cast(1 + floor(cast(5 * (frequency_rank - 1) as {{ dbt.type_float() }}) / customer_count) as integer)
            as frequency_score,
        cast(1 + floor(cast(5 * (monetary_rank - 1) as {{ dbt.type_float() }}) / customer_count) as integer)
            as monetary_score
    from ranked

),

final as (

    select
        s.profile_id,
        s.recency_days,
        s.frequency,
        s.monetary,
        s.recency_score,
        s.frequency_score,
        s.monetary_score,
        cast(s.recency_score as {{ dbt.type_string() }})
        || cast(s.frequency_score as {{ dbt.type_string() }})
        || cast(s.monetary_score as {{ dbt.type_string() }}) as rfm_code,
        r.segment as rfm_segment
    from scored as s
    left join segment_rules as r
        on
            s.recency_score = r.recency_score
            and s.frequency_score = r.frequency_score
            and s.monetary_score = r.monetary_score

)

select * from final
