-- Indentation rules off for this model: Jinja branches and loops build its CTEs, which
-- the linter's indentation rules cannot lay out.
-- noqa: disable=LT02
{#
    How segments overlap now: one row per ordered pair of different segments, with the
    members they share, each one's size, the Jaccard index (shared / in either) and the
    share of the first segment's members that are also in the second.
#}

with

memberships as (

    select * from {{ ref('int_segment_memberships_evaluated') }}

),

segments as (

    {{ cdp.segment_names_relation() }}

),

sizes as (

    select
        segments.segment_name,
        count(memberships.profile_id) as member_count
    from segments
    left join memberships on segments.segment_name = memberships.segment_name
    group by segments.segment_name

),

shared as (

    select
        a.segment_name as segment_a,
        b.segment_name as segment_b,
        count(*) as shared_count
    from memberships as a
    inner join memberships as b
        on
            a.profile_id = b.profile_id
            and a.segment_name != b.segment_name
    group by a.segment_name, b.segment_name

),

final as (

    select
        size_a.segment_name as segment_a,
        size_b.segment_name as segment_b,
        size_a.member_count as size_a,
        size_b.member_count as size_b,
        coalesce(shared.shared_count, 0) as shared_count,
        cast(coalesce(shared.shared_count, 0) as double)
        / nullif(size_a.member_count + size_b.member_count - coalesce(shared.shared_count, 0), 0) as jaccard,
        cast(coalesce(shared.shared_count, 0) as double)
        / nullif(size_a.member_count, 0) as share_of_a_in_b
    from sizes as size_a
    inner join sizes as size_b on size_a.segment_name != size_b.segment_name
    left join shared
        on
            size_a.segment_name = shared.segment_a
            and size_b.segment_name = shared.segment_b

)

select * from final
