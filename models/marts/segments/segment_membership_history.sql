-- Indentation rules off for this model: Jinja branches and loops build its CTEs, which
-- the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{{ config(
    materialized='incremental',
    unique_key='segment_membership_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    cluster_by=['segment_name', 'to_date(entered_at)'],
    post_hook="{{ cdp.privacy_delete_forgotten({'profile_id': 'profile_id'}) }}",
) }}

{#
    Segment membership over time, kept across builds: one row per stretch a profile spent
    in a segment. Each build (as of cdp.as_of()) compares the segments evaluated now with
    the open stretches: a new member opens a stretch (entered_at = the build's moment), a
    profile no longer in a segment closes its stretch (exited_at = the build's moment). A
    segment removed from segments/ closes all its stretches; so does a profile merged into
    another (its profile_id is gone).
#}

with

evaluated as (

    select * from {{ ref('int_segment_memberships_evaluated') }}

),

{% if is_incremental() %}

open_stretches as (

    select * from {{ this }}
    where exited_at is null

),

entered as (

    select
        evaluated.segment_name,
        evaluated.profile_id
    from evaluated
    left join open_stretches
        on
            evaluated.segment_name = open_stretches.segment_name
            and evaluated.profile_id = open_stretches.profile_id
    where open_stretches.profile_id is null

),

exited as (

    select
        open_stretches.segment_membership_id,
        open_stretches.segment_name,
        open_stretches.profile_id,
        open_stretches.entered_at,
        {{ cdp.as_of() }} as exited_at
    from open_stretches
    left join evaluated
        on
            open_stretches.segment_name = evaluated.segment_name
            and open_stretches.profile_id = evaluated.profile_id
    where evaluated.profile_id is null

),

{% else %}

entered as (

    select
        segment_name,
        profile_id
    from evaluated

),

{% endif %}

opened as (

    select
        segment_name,
        profile_id,
        {{ cdp.as_of() }} as entered_at
    from entered

),

final as (

    select
        {{ cdp.surrogate_key(['segment_name', 'profile_id', 'entered_at']) }} as segment_membership_id,
        segment_name,
        profile_id,
        entered_at,
        cast(null as {{ dbt.type_timestamp() }}) as exited_at
    from opened
    {%- if is_incremental() %}

    union all

    select
        segment_membership_id,
        segment_name,
        profile_id,
        entered_at,
        exited_at
    from exited
    {%- endif %}

)

select * from final
