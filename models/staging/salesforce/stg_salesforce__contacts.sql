with

source as (

    select * from {{ source('salesforce', 'contact') }}

),

-- History mode: the current version of each record.
current_versions as (

    select * from source
    where coalesce(_fivetran_active, true)
    {{ cdp.latest_per_key('id', '_fivetran_start desc, _fivetran_synced') }}

),

renamed as (

    select
        id as contact_id,
        account_id,
        owner_id,
        salutation,
        first_name,
        last_name,
        name as contact_name,
        email,
        phone,
        mobile_phone,
        home_phone,
        mailing_street,
        mailing_city,
        mailing_state,
        mailing_state_code,
        mailing_postal_code,
        mailing_country,
        mailing_country_code,
        cast(birthdate as date) as birth_date,
        title,
        department,
        lead_source,
        has_opted_out_of_email,
        do_not_call as is_do_not_call,
        master_record_id,
        cast(created_date as {{ dbt.type_timestamp() }}) as created_at,
        cast(last_modified_date as {{ dbt.type_timestamp() }}) as last_modified_at,
        cast(last_activity_date as {{ dbt.type_timestamp() }}) as last_activity_at,
        cast(_fivetran_synced as {{ dbt.type_timestamp() }}) as synced_at

    from current_versions
    where not coalesce(is_deleted, false)

)

select * from renamed
