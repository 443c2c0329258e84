{#
    Who is in each segment now: one row per segment and member, with when the profile
    entered (the start of its current stretch in segment_membership_history).
#}

with

evaluated as (

    select * from {{ ref('int_segment_memberships_evaluated') }}

),

history as (

    select * from {{ ref('segment_membership_history') }}
    where exited_at is null

),

final as (

    select
        evaluated.segment_name,
        evaluated.profile_id,
        history.entered_at
    from evaluated
    inner join history
        on
            evaluated.segment_name = history.segment_name
            and evaluated.profile_id = history.profile_id

)

select * from final
