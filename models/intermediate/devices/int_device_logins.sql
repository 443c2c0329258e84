{#
    Moments when a device (Segment anonymous_id) was seen used by a known profile: every
    identify call and every logged-in call (user_id set), and identify calls carrying an
    email that belongs to exactly one profile (a newsletter sign-up). One row per device,
    time and profile.
#}
with

-- Two imports rather than one CTE read twice, which would be materialised whole first.
logged_in as (

    select * from {{ ref('int_segment_calls_deduplicated') }}
    where user_id is not null

),

identifies as (

    select * from {{ ref('int_segment_calls_deduplicated') }}
    where call_type = 'identify'

),

record_profiles as (

    select * from {{ ref('int_identity_record_profiles') }}

),

identifiers as (

    select * from {{ ref('int_identifiers_normalized') }}

),

domain_corrections as (

    select * from {{ ref('email_domain_corrections') }}

),

by_user as (

    select
        l.anonymous_id,
        l.occurred_at as seen_at,
        p.profile_id,
        'user_id' as evidence
    from logged_in as l
    inner join record_profiles as p on 'user_id:' || l.user_id = p.record_key
    where l.anonymous_id is not null

),

email_profiles as (

    select
        i.identifier_value as email,
        min(p.profile_id) as profile_id
    from identifiers as i
    inner join record_profiles as p on i.record_key = p.record_key
    where i.identifier_type = 'email'
    group by i.identifier_value
    -- An address several profiles share says nothing about who used the device.
    having count(distinct p.profile_id) = 1

),

anonymous_identifies as (

    select
        anonymous_id,
        occurred_at,
        split_part({{ cdp.clean_email('email') }}, '@', 1) as local_part,
        split_part({{ cdp.clean_email('email') }}, '@', 2) as domain
    from identifies
    where user_id is null and email is not null and anonymous_id is not null

),

-- Normalised as int_identifiers_normalized does (same folding, same domain corrections).
anonymous_emails as (

    select
        a.anonymous_id,
        a.occurred_at,
        {{ cdp.fold_email('a.local_part', 'coalesce(d.corrected_domain, a.domain)') }} as email
    from anonymous_identifies as a
    left join domain_corrections as d on a.domain = d.domain
    where a.local_part != ''

),

by_email as (

    select
        a.anonymous_id,
        a.occurred_at as seen_at,
        e.profile_id,
        'email' as evidence
    from anonymous_emails as a
    inner join email_profiles as e on a.email = e.email

),

final as (

    select * from by_user
    union all
    select * from by_email

)

select distinct * from final
