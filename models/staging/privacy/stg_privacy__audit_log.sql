-- The source's column is named action, a keyword the linter refuses as a name: it is renamed below.
-- noqa: disable=RF04
{#
    The privacy audit log (cdp privacy forget|export|complete): empty until the first action.
#}
{%- set columns = [
    'audit_id', 'action', 'subject_sha256', 'actor', 'occurred_at', 'details',
] %}

with

source as (

    {{ cdp.source_or_empty(source('privacy', 'audit_log'), columns) }}

),

renamed as (

    select
        cast(audit_id as {{ dbt.type_string() }}) as audit_id,
        cast(action as {{ dbt.type_string() }}) as audit_action,
        cast(subject_sha256 as {{ dbt.type_string() }}) as subject_sha256,
        cast(actor as {{ dbt.type_string() }}) as actor,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(details as {{ dbt.type_string() }}) as details
    from source

)

select * from renamed
