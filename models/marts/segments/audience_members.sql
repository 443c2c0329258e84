{#
    Who each audience sends to now: one row per audience and profile, holdouts left out,
    with the identifiers its channel needs and no others: email for email, the E.164 phone
    for sms, and for ads the SHA-256 match keys the ad platforms take (lower-cased email;
    phone as E.164 with its + for Google, digits only for Meta).
#}

with

assignments as (

    select * from {{ ref('int_audience_assignments') }}
    where not is_holdout

),

profiles as (

    select * from {{ ref('profiles') }}

),

final as (

    select
        {{ cdp.surrogate_key(['assignments.audience_name', 'assignments.profile_id']) }} as audience_member_id,
        assignments.audience_name,
        assignments.profile_id,
        assignments.channel,
        case when assignments.channel = 'email' then profiles.email end as email,
        case when assignments.channel = 'sms' then profiles.phone end as phone,
        case
            when assignments.channel = 'ads' and profiles.email is not null
                then {{ cdp.sha256_hex('lower(trim(profiles.email))') }}
        end as email_sha256,
        case
            when assignments.channel = 'ads' and profiles.phone is not null
                then {{ cdp.sha256_hex('profiles.phone') }}
        end as phone_sha256,
        case
            when assignments.channel = 'ads' and profiles.phone is not null
                then {{ cdp.sha256_hex("replace(profiles.phone, '+', '')") }}
        end as phone_digits_sha256,
        profiles.first_name,
        profiles.last_name,
        profiles.country_code
    from assignments
    inner join profiles on assignments.profile_id = profiles.profile_id

)

select * from final
