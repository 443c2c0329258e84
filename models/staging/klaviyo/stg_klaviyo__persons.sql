with

source as (

    select * from {{ source('klaviyo', 'person') }}

),

latest as (

    select * from source
    {{ cdp.latest_per_key('id', '_fivetran_synced') }}

),

renamed as (

    select
        id as person_id,
        email,
        phone_number as phone,
        first_name,
        last_name,
        {{ cdp.source_column('organization') }} as organization,
        title,
        address_1 as address_line_1,
        address_2 as address_line_2,
        city,
        region,
        zip as postcode,
        country,
        timezone,
        cast(latitude as {{ dbt.type_float() }}) as latitude,
        cast(longitude as {{ dbt.type_float() }}) as longitude,
        cast(created as {{ dbt.type_timestamp() }}) as created_at,
        cast(updated as {{ dbt.type_timestamp() }}) as updated_at,
        cast(last_event_date as {{ dbt.type_timestamp() }}) as last_event_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from latest
    where not coalesce(_fivetran_deleted, false)

)

select * from renamed
