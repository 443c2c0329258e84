with

source as (

    select * from {{ source('salesforce', 'user') }}

),

-- History mode: the current version of each record.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as user_id,
        name as user_name,
        first_name,
        last_name,
        email,
        username,
        alias,
        title,
        department,
        user_type,
        is_active,
        city,
        state,
        country,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
