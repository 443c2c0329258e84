{#
    MetricFlow's time spine: one row per day over the range of vars metrics_time_spine_start
    and metrics_time_spine_end (dbt_project.yml). Metrics with time offsets and cumulative
    windows join to it; it must cover every date the measures carry.
#}
with

days as (

    {{ cdp.date_spine(var('metrics_time_spine_start'), var('metrics_time_spine_end')) }}

),

final as (

    select date_day from days

)

select * from final
