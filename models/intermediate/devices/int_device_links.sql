{#
    Which profile a device (anonymous_id) belongs to, and when: one row per stretch of
    time. A device belongs to a profile from that profile's first login on it until another
    profile logs in on it; events before any login belong to the first profile that logs
    in (stretch_number 1 also covers the time before valid_from). A device shared by two
    people therefore never merges them: each gets the stretch of time they used it.

    Limit: a profile may gain at most identity_rules.max_per_profile devices
    (anonymous_id) within any window_days; the devices past that, latest first, are not
    linked (is_over_limit) and identity_conflicts lists them.
#}
with

logins as (

    select * from {{ ref('int_device_logins') }}

),

rules as (

    select * from {{ ref('identity_rules') }}
    where identifier_type = 'anonymous_id'

),

ordered as (

    select
        anonymous_id,
        seen_at,
        profile_id,
        lag(profile_id) over (partition by anonymous_id order by seen_at, profile_id) as previous_profile_id
    from logins

),

-- A new stretch starts at each login by another profile than the one before.
stretch_starts as (

    select
        anonymous_id,
        seen_at as valid_from,
        profile_id
    from ordered
    where previous_profile_id is null or previous_profile_id != profile_id

),

stretches as (

    select
        anonymous_id,
        profile_id,
        valid_from,
        lead(valid_from) over (partition by anonymous_id order by valid_from, profile_id) as valid_to,
        row_number() over (partition by anonymous_id order by valid_from, profile_id) as stretch_number
    from stretch_starts

),

-- When each profile first gained each device.
first_links as (

    select
        profile_id,
        anonymous_id,
        min(valid_from) as linked_at
    from stretches
    group by profile_id, anonymous_id

),

devices_in_window as (

    select
        f.profile_id,
        f.anonymous_id,
        f.linked_at,
        count(*) as devices_in_window,
        max(r.max_per_profile) as max_per_profile,
        max(r.window_days) as window_days
    from first_links as f
    cross join rules as r
    inner join first_links as earlier
        on
            f.profile_id = earlier.profile_id
            and f.linked_at >= earlier.linked_at
            and earlier.linked_at > {{ dbt.dateadd('day', '-1 * r.window_days', 'f.linked_at') }}
    group by f.profile_id, f.anonymous_id, f.linked_at

),

final as (

    select
        s.anonymous_id,
        s.profile_id,
        s.valid_from,
        s.valid_to,
        s.stretch_number,
        coalesce(w.devices_in_window > w.max_per_profile, false) as is_over_limit,
        w.devices_in_window,
        w.max_per_profile,
        w.window_days
    from stretches as s
    left join devices_in_window as w on s.profile_id = w.profile_id and s.anonymous_id = w.anonymous_id

)

select * from final
