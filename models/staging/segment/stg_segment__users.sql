with

source as (

    select * from {{ source('segment', 'users') }}

),

-- Segment upserts users by id; keep the newest traits if a load left two rows.
latest as (

    select * from source
    {{ cdp.latest_per_key('id', 'received_at') }}

),

renamed as (

    select
        id as user_id,
        email,
        first_name,
        last_name,
        phone,
        address_street,
        address_city,
        address_state,
        address_postal_code,
        address_country,
        cast(created_at as {{ dbt.type_timestamp() }}) as user_created_at,
        cast(received_at as {{ dbt.type_timestamp() }}) as received_at,
        cast(uuid_ts as {{ dbt.type_timestamp() }}) as loaded_at

    from latest

)

select * from renamed
