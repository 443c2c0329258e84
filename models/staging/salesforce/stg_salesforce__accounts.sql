with

source as (

    select * from {{ source('salesforce', 'account') }}

),

-- History mode: the current version of each record.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as account_id,
        name as account_name,
        type as account_type,
        industry,
        rating,
        account_source,
        owner_id,
        parent_id,
        cast(number_of_employees as {{ dbt.type_int() }}) as number_of_employees,
        cast(annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue,
        website,
        phone,
        billing_street,
        billing_city,
        billing_state,
        billing_postal_code,
        billing_country,
        shipping_street,
        shipping_city,
        shipping_state,
        shipping_postal_code,
        shipping_country,
        shipping_country_code,
        cast(created_date as {{ dbt.type_timestamp() }}) as created_at,
        cast(last_activity_date as {{ dbt.type_timestamp() }}) as last_activity_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where not coalesce(is_deleted, false)

)

select * from renamed
