with

source as (

    select * from {{ source('salesforce', 'opportunity') }}

),

-- History mode: the current version of each record.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as opportunity_id,
        account_id,
        contact_id,
        owner_id,
        name as opportunity_name,
        stage_name,
        type as opportunity_type,
        lead_source,
        next_step,
        forecast_category,
        forecast_category_name,
        cast(amount as {{ dbt.type_numeric() }}) as amount,
        cast(expected_revenue as {{ dbt.type_numeric() }}) as expected_revenue,
        cast(probability as {{ dbt.type_float() }}) as probability,
        cast(close_date as date) as close_date,
        is_closed,
        is_won,
        has_open_activity,
        cast(fiscal_year as {{ dbt.type_int() }}) as fiscal_year,
        cast(fiscal_quarter as {{ dbt.type_int() }}) as fiscal_quarter,
        cast(created_date as {{ dbt.type_timestamp() }}) as created_at,
        cast(last_activity_date as {{ dbt.type_timestamp() }}) as last_activity_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where not coalesce(is_deleted, false)

)

select * from renamed
