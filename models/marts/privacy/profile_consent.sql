{#
    Consent per profile and channel (email, sms, ads): one row each, from every choice any
    source recorded (int_consent_choices). The latest explicit choice wins; at the same
    moment an opt-out beats an opt-in; an inferred opt-in (a marketing flag with no recorded
    choice behind it) counts only when the person never chose explicitly; no choice at all
    is 'unknown'. No simulated source records ads/tracking choices, so ads is 'unknown'
    until one does (a source's choices join int_consent_choices with channel 'ads').
#}

with

choices as (

    select * from {{ ref('int_consent_choices') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

channels as (

    select 'email' as channel
    union all
    select 'sms' as channel
    union all
    select 'ads' as channel

),

ranked as (

    select
        *,
        row_number() over (
            partition by profile_id, channel
            order by
                is_explicit desc,
                chosen_at desc,
                case when choice = 'opted_out' then 0 else 1 end asc,
                consent_choice_id asc
        ) as choice_rank
    from choices

),

by_source as (

    select
        profile_id,
        channel,
        count(distinct case when choice = 'opted_in' then source end) as sources_opted_in,
        count(distinct case when choice = 'opted_out' then source end) as sources_opted_out,
        count(*) as choices_recorded
    from choices
    group by profile_id, channel

),

final as (

    select
        {{ cdp.surrogate_key(['profiles.profile_id', 'channels.channel']) }} as profile_consent_id,
        profiles.profile_id,
        channels.channel,
        coalesce(ranked.choice, 'unknown') as consent,
        coalesce(ranked.choice = 'opted_in', false) as is_opted_in,
        ranked.is_explicit,
        ranked.chosen_at,
        ranked.source,
        ranked.evidence,
        coalesce(by_source.sources_opted_in, 0) as sources_opted_in,
        coalesce(by_source.sources_opted_out, 0) as sources_opted_out,
        coalesce(by_source.choices_recorded, 0) as choices_recorded
    from profiles
    cross join channels
    left join ranked
        on
            profiles.profile_id = ranked.profile_id
            and channels.channel = ranked.channel
            and ranked.choice_rank = 1
    left join by_source
        on
            profiles.profile_id = by_source.profile_id
            and channels.channel = by_source.channel

)

select * from final
