with

source as (

    select * from {{ source('zendesk', 'ticket') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as ticket_id,
        cast(requester_id as {{ dbt.type_bigint() }}) as requester_id,
        cast(submitter_id as {{ dbt.type_bigint() }}) as submitter_id,
        cast(assignee_id as {{ dbt.type_bigint() }}) as assignee_id,
        cast(organization_id as {{ dbt.type_bigint() }}) as organization_id,
        cast(group_id as {{ dbt.type_bigint() }}) as group_id,
        cast(brand_id as {{ dbt.type_bigint() }}) as brand_id,
        cast(ticket_form_id as {{ dbt.type_bigint() }}) as ticket_form_id,
        cast(problem_id as {{ dbt.type_bigint() }}) as problem_id,
        subject,
        description,
        status,
        priority,
        type as ticket_type,
        via_channel as created_channel,
        recipient,
        external_id,
        is_public,
        has_incidents,
        url,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    -- Zendesk deletes by status as well as by Fivetran's flag.
    where
        not coalesce(_fivetran_deleted, false)
        and coalesce(status, '') != 'deleted'

)

select * from renamed
