with

source as (

    select * from {{ source('klaviyo', 'metric') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as metric_id,
        name as metric_name,
        integration_id,
        integration_name,
        integration_category,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
