-- The key of cohort_retention is (cohort_month, months_since_acquisition): one row each (also
-- the generic key test in the YAML),
-- and every cohort has every month from 0 up to its last without a gap.
with

retention as (

    select * from {{ ref('cohort_retention') }}

),

duplicates as (

    select
        cohort_month,
        months_since_acquisition
    from retention
    group by cohort_month, months_since_acquisition
    having count(*) > 1

),

gaps as (

    select
        cohort_month,
        max(months_since_acquisition) as months_since_acquisition
    from retention
    group by cohort_month
    having count(*) != max(months_since_acquisition) + 1 or min(months_since_acquisition) != 0

),

final as (

    select * from duplicates
    union all
    select * from gaps

)

select * from final
