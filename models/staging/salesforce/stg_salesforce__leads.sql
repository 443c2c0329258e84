with

source as (

    select * from {{ source('salesforce', 'lead') }}

),

-- History mode: the current version of each record.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as lead_id,
        owner_id,
        salutation,
        first_name,
        last_name,
        name as lead_name,
        email,
        phone,
        mobile_phone,
        company,
        title,
        street,
        city,
        state,
        state_code,
        postal_code,
        country,
        country_code,
        -- Lead has no standard birth date; this org keeps it in the custom field Birthdate__c.
        cast(birthdate_c as date) as birth_date,
        status,
        is_converted,
        converted_contact_id,
        converted_account_id,
        converted_opportunity_id,
        lead_source,
        industry,
        cast(number_of_employees as {{ dbt.type_int() }}) as number_of_employees,
        cast(annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue,
        website,
        has_opted_out_of_email,
        do_not_call as is_do_not_call,
        is_unread_by_owner,
        cast(converted_date as {{ dbt.type_timestamp() }}) as converted_at,
        cast(created_date as {{ dbt.type_timestamp() }}) as created_at,
        cast(last_modified_date as {{ dbt.type_timestamp() }}) as last_modified_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where not coalesce(is_deleted, false)

)

select * from renamed
