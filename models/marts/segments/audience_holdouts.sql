{#
    Each audience's holdout group: profiles that qualified and were deliberately not sent
    (holdout_percent of the audience, chosen by a hash of audience and profile, so the same
    profile stays held out build after build). Compare them with audience_members to
    measure the lift.
#}

with

assignments as (

    select * from {{ ref('int_audience_assignments') }}
    where is_holdout

),

final as (

    select
        {{ cdp.surrogate_key(['audience_name', 'profile_id']) }} as audience_holdout_id,
        audience_name,
        profile_id,
        channel
    from assignments

)

select * from final
