{#
    Privacy requests (cdp privacy forget|export): empty until the first one is made.
#}
{%- set columns = [
    'request_id', 'kind', 'identifier_type', 'subject_sha256', 'requested_at', 'requested_by',
    'reason', 'profiles_found', 'completed_at', 'output_path',
] %}

with

source as (

    {{ cdp.source_or_empty(source('privacy', 'requests'), columns) }}

),

renamed as (

    select
        cast(request_id as {{ dbt.type_string() }}) as request_id,
        cast(kind as {{ dbt.type_string() }}) as request_kind,
        cast(identifier_type as {{ dbt.type_string() }}) as identifier_type,
        cast(subject_sha256 as {{ dbt.type_string() }}) as subject_sha256,
        cast(requested_at as {{ dbt.type_timestamp() }}) as requested_at,
        cast(requested_by as {{ dbt.type_string() }}) as requested_by,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(profiles_found as integer) as profiles_found,
        cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at,
        cast(output_path as {{ dbt.type_string() }}) as output_path
    from source

)

select * from renamed
