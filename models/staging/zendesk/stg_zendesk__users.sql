with

source as (

    select * from {{ source('zendesk', 'user') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as user_id,
        email,
        name as user_name,
        phone,
        role,
        role in ('agent', 'admin') as is_agent,
        external_id,
        cast(organization_id as {{ dbt.type_bigint() }}) as organization_id,
        locale,
        time_zone,
        ticket_restriction,
        active as is_active,
        suspended as is_suspended,
        verified as is_verified,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(last_login_at as {{ dbt.type_timestamp() }}) as last_login_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
