-- Indentation rules off for this model: Jinja branches and loops build its CTEs, which
-- the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='segment_size_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

{#
    Segment sizes, one row per segment per build, kept across builds so that the trend can
    be charted. A segment with no members has a row with 0.
#}

with

memberships as (

    select * from {{ ref('int_segment_memberships_evaluated') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

segments as (

    {{ cdp.segment_names_relation() }}

),

counts as (

    select
        segment_name,
        count(*) as member_count
    from memberships
    group by segment_name

),

profile_count as (

    select count(*) as profile_count
    from profiles

),

final as (

    select
        {{ cdp.surrogate_key(['segments.segment_name', "'" ~ invocation_id ~ "'"]) }} as segment_size_id,
        segments.segment_name,
        {{ cdp.as_of() }} as measured_at,
        {{ cdp.utc_now() }} as built_at,
        '{{ invocation_id }}' as dbt_invocation_id,
        coalesce(counts.member_count, 0) as member_count,
        profile_count.profile_count,
        cast(coalesce(counts.member_count, 0) as double)
        / nullif(profile_count.profile_count, 0) as share_of_profiles
    from segments
    cross join profile_count
    left join counts on segments.segment_name = counts.segment_name

)

select * from final
