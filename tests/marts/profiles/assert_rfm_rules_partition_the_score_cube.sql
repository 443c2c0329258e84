-- The RFM rule seed must map each of the 125 (R, F, M) cells to exactly one segment, and
-- every one of the 11 named segments must be reachable. Returns what breaks either.
with

rules as (

    select * from {{ ref('rfm_segment_rules') }}

),

scores as (

    select 1 as score union all select 2 union all select 3 union all select 4 union all select 5

),

cells as (

    select
        r.score as recency_score,
        f.score as frequency_score,
        m.score as monetary_score
    from scores as r
    cross join scores as f
    cross join scores as m

),

cell_matches as (

    select
        c.recency_score,
        c.frequency_score,
        c.monetary_score,
        count(r.segment) as segments
    from cells as c
    left join rules as r
        on
            c.recency_score = r.recency_score
            and c.frequency_score = r.frequency_score
            and c.monetary_score = r.monetary_score
    group by c.recency_score, c.frequency_score, c.monetary_score

),

expected_segments as (

    select 'Champions' as segment union all select 'Loyal' union all select 'Potential Loyalist'
    union all select 'New Customers' union all select 'Promising' union all select 'Need Attention'
    union all select 'About to Sleep' union all select 'At Risk' union all select 'Cannot Lose Them'
    union all select 'Hibernating' union all select 'Lost'

),

problems as (

    select
        'cell ' || cast(recency_score as {{ dbt.type_string() }}) || cast(frequency_score as {{ dbt.type_string() }})
        || cast(monetary_score as {{ dbt.type_string() }}) || ' has ' || cast(segments as {{ dbt.type_string() }})
        || ' segments' as problem
    from cell_matches
    where segments != 1

    union all

    select 'segment ' || e.segment || ' is unreachable'
    from expected_segments as e
    where not exists (select 1 from rules as r where r.segment = e.segment)

    union all

    select 'rule for unknown segment ' || r.segment
    from rules as r
    where not exists (select 1 from expected_segments as e where e.segment = r.segment)

    union all

    select 'rule outside the 1-5 cube: ' || cast(r.recency_score as {{ dbt.type_string() }})
    from rules as r
    where
        r.recency_score not between 1 and 5 or r.frequency_score not between 1 and 5
        or r.monetary_score not between 1 and 5

)

select * from problems
