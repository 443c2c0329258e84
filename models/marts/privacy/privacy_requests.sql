{#
    Privacy requests and their completion: one row per request (cdp privacy forget|export).
    A forget is completed by the first `cdp privacy complete` after a build that finds no
    trace of the person in any table of the warehouse; an export when its document is written.
#}
{%- set seconds_to_complete = dbt.datediff('requested_at', 'completed_at', 'second') %}

with

requests as (

    select * from {{ ref('stg_privacy__requests') }}

),

final as (

    select
        request_id,
        request_kind,
        identifier_type,
        subject_sha256,
        requested_at,
        requested_by,
        reason,
        profiles_found,
        completed_at,
        completed_at is not null as is_completed,
        {{ seconds_to_complete }} as seconds_to_complete
    from requests

)

select * from final
